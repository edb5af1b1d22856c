package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/re-factor/resources/store"
)

// queryResult is one row of the report.
type queryResult struct {
	q        query
	load     loadResult
	cpu      cpuShare // per request, while the server was loaded
	prepared bool
	tps      float64
	sql      string
	explain  string
}

// datasetResult is everything measured on one dataset size.
type datasetResult struct {
	rows, largest   int
	importTime      time.Duration
	vacuumTime      time.Duration
	queries         []queryResult
	peakRSS         int64
	profile, topCPU string
	compression     []compressionRow // main dataset only
}

// benchDataset loads a dataset of rows resources into a fresh database and
// measures the queries named in only (all when nil).
func benchDataset(ctx context.Context, o options, pg *postgres, rows int, only []string) (datasetResult, error) {
	res := datasetResult{rows: rows, largest: accountSizes(rows)[0]}
	file, err := datasetFile(o.work, rows)
	if err != nil {
		return res, err
	}
	dbURL, err := pg.freshDatabase(ctx, "bench_"+strconv.Itoa(rows))
	if err != nil {
		return res, err
	}
	logf("importing %d rows", rows)
	if res.importTime, err = runImport(ctx, o.bin, dbURL, file); err != nil {
		return res, err
	}
	logf("imported in %v (%.0f rows/s); vacuuming", res.importTime, float64(rows)/res.importTime.Seconds())
	if res.vacuumTime, err = vacuum(ctx, dbURL); err != nil {
		return res, err
	}
	db, err := store.Open(ctx, dbURL, store.WithCursorKey([]byte(benchCursorSecret)))
	if err != nil {
		return res, err
	}
	defer db.Close()
	raw, err := sql.Open("postgres", dbURL)
	if err != nil {
		return res, err
	}
	defer raw.Close()
	srv, err := startServer(ctx, o.bin, dbURL, filepath.Join(o.work, fmt.Sprintf("server-%d.log", rows)), o.poolSize)
	if err != nil {
		return res, err
	}
	defer srv.stop()
	var targets []vegeta.Target
	for _, q := range mix(rows) {
		if only != nil && !slices.Contains(only, q.name) {
			continue
		}
		qr, err := benchQuery(ctx, o, srv, pg, db, raw, dbURL, rows, q)
		if err != nil {
			return res, fmt.Errorf("%s: %w", q.name, err)
		}
		res.queries = append(res.queries, qr)
		tok, _ := token(qr.q.account)
		targets = append(targets, target(srv.url+qr.q.path(), tok))
	}
	if only == nil {
		if res.compression, err = benchCompression(ctx, o, srv, rows); err != nil {
			return res, fmt.Errorf("compression: %w", err)
		}
	}
	if o.profile > 0 && only == nil {
		res.profile = filepath.Join(o.work, fmt.Sprintf("cpu-%d.pprof", rows))
		if res.topCPU, err = profileMix(ctx, o, srv, targets, res.profile); err != nil {
			return res, err
		}
	}
	res.peakRSS = srv.peakRSS()
	return res, nil
}

// benchQuery measures one query through the server and with pgbench.
func benchQuery(ctx context.Context, o options, srv *serverProc, pg *postgres, db *store.DB, raw *sql.DB,
	dbURL string, rows int, q query) (queryResult, error) {
	tok, err := token(q.account)
	if err != nil {
		return queryResult{}, err
	}
	if q.name == "Q11" {
		// The cursor a client holds after walking to row 50,000: the one
		// that Q7's page (rows 49,981–50,000) hands out.
		q7 := mix(rows)[6]
		if q.cursor, err = fetchCursor(ctx, srv.url, q7.path(), tok); err != nil {
			return queryResult{}, err
		}
	}
	lq, err := db.ListQuery(q.filter())
	if err != nil {
		return queryResult{}, err
	}
	t := []vegeta.Target{target(srv.url+q.path(), tok)}
	if o.warmup > 0 {
		attack(t, o.concurrency, o.warmup)
	}
	logf("%s: server", q.name)
	before := sampleCPU(srv.cmd.Process.Pid, pg.postmaster())
	r := queryResult{q: q, sql: lq.SQL, load: attack(t, o.concurrency, o.duration)}
	r.cpu = per(before, sampleCPU(srv.cmd.Process.Pid, pg.postmaster()), float64(r.load.requests))
	r.prepared = lq.Prepared
	if r.explain, err = explain(ctx, raw, lq); err != nil {
		return r, err
	}
	logf("%s: pgbench", q.name)
	script := filepath.Join(o.work, q.name+".sql")
	if r.tps, err = pgbench(ctx, dbURL, lq, o.concurrency, o.duration, script); err != nil {
		return r, err
	}
	logf("%s: %.0f req/s p50 %v p99 %v errors %d; pgbench %.0f tps", q.name,
		r.load.rps, r.load.p50, r.load.p99, r.load.errors, r.tps)
	return r, nil
}

// profileMix runs all targets in turn while taking a CPU profile of the
// server, and returns the profile's top functions.
func profileMix(ctx context.Context, o options, srv *serverProc, targets []vegeta.Target, path string) (string, error) {
	logf("profiling the server under the mixed load")
	errc := make(chan error, 1)
	go func() { errc <- profile(ctx, srv.pprofAddr, path, o.profile) }()
	attack(targets, o.concurrency, o.profile+time.Second)
	if err := <-errc; err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=25", o.bin, path).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %w\n%s", err, out)
	}
	return string(out), nil
}

// datasetFile returns the JSON Lines file of rows resources, writing it
// the first time.
func datasetFile(work string, rows int) (string, error) {
	path := filepath.Join(work, fmt.Sprintf("dataset-%d.jsonl", rows))
	if fileExists(path) {
		return path, nil
	}
	logf("generating %d rows", rows)
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", err
	}
	if err := writeDataset(f, rows); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// runImport loads file with `refactor import` and returns how long it took.
func runImport(ctx context.Context, bin, databaseURL, file string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, bin, "import", "--file", file)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+databaseURL, "DB_STATEMENT_TIMEOUT=1h")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("refactor import: %w\n%s", err, out)
	}
	return time.Since(start), nil
}

// vacuum sets the visibility map (for index-only scans) and the planner's
// statistics after the load, as autovacuum would in time, and returns how
// long that took.
func vacuum(ctx context.Context, databaseURL string) (time.Duration, error) {
	db, err := sql.Open("postgres", databaseURL)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	start := time.Now()
	if _, err = db.ExecContext(ctx, `VACUUM (ANALYZE) resources, resource_tags, account_counts, account_tag_counts`); err != nil {
		return 0, err
	}
	d := time.Since(start)
	// Write the load's dirty buffers out now, so that the checkpointer's
	// work is not counted against (and does not slow) the first queries.
	_, err = db.ExecContext(ctx, `CHECKPOINT`)
	return d, err
}

// importSQLite imports the main dataset into a new SQLite file and returns
// rows a second.
func importSQLite(ctx context.Context, o options) (float64, error) {
	file, err := datasetFile(o.work, o.rows)
	if err != nil {
		return 0, err
	}
	path := filepath.Join(o.work, "bench.db")
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		os.Remove(p)
	}
	logf("importing %d rows into SQLite", o.rows)
	d, err := runImport(ctx, o.bin, "sqlite:"+path, file)
	if err != nil {
		return 0, err
	}
	return float64(o.rows) / d.Seconds(), nil
}
