package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
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
	tps      float64 // pgbench's, 0 on SQLite
	sql      string
	explain  string
}

// queryResults are a run's rows, found by query name.
type queryResults []queryResult

// find returns the row of the query named name, or the zero row.
func (qs queryResults) find(name string) queryResult {
	for _, q := range qs {
		if q.q.name == name {
			return q
		}
	}
	return queryResult{}
}

// datasetResult is everything measured on one dataset size of one setup.
type datasetResult struct {
	rows, largest   int
	migrateTime     time.Duration
	importTime      time.Duration
	importRSS       int64    // the import command's peak resident set, bytes
	importSaid      []string // import's own lines about its analyse step
	queries         queryResults
	peakRSS         int64
	profile, topCPU string
	compression     []compressionRow
	sweep           sweepResult
}

// setupResult is one setup's measurements of the main dataset.
type setupResult struct {
	setup    setup
	database string
	main     datasetResult
	seed     seedResult // SQLite's alone
}

// seedRows is the size of the seed of `serve --ephemeral --seed`, and
// maxSeedTime the time it may take to be ready with it (issue 21).
const (
	seedRows    = 100_000
	maxSeedTime = 5 * time.Second
)

// seedResult is what starting `refactor serve --ephemeral --seed` cost:
// the start of a consumer's CI job or a front-end team's mock.
type seedResult struct {
	took    time.Duration // from the command's start to its first 200 on /readyz
	peakRSS int64
}

// benchSeed starts an ephemeral server seeded with seedRows rows of the
// benchmark's dataset, and times it until it is ready.
func benchSeed(ctx context.Context, o options) (seedResult, error) {
	file, err := datasetFile(o.work, seedRows)
	if err != nil {
		return seedResult{}, err
	}
	start := time.Now()
	srv, err := startCommand(ctx, o.bin, []string{"serve", "--ephemeral", "--seed", file}, "",
		filepath.Join(o.work, "server-seed.log"), o.poolSize)
	if err != nil {
		return seedResult{}, fmt.Errorf("serve --ephemeral --seed: %w", err)
	}
	res := seedResult{took: time.Since(start), peakRSS: srv.peakRSS()}
	srv.stop()
	logf("serve --ephemeral --seed of %d rows: ready in %v, peak RSS %d MB", seedRows, res.took, res.peakRSS>>20)
	return res, nil
}

// benchSetup starts the setup's database and measures the main dataset on
// it; extras adds the compression comparison and the CPU profile.
func benchSetup(ctx context.Context, o options, s setup, extras bool) (setupResult, error) {
	res := setupResult{setup: s}
	var pg *postgres
	var err error
	if !s.sqlite {
		if pg, err = openPostgres(filepath.Join(o.work, "cluster-"+s.name), o.pgURL, s.settings); err != nil {
			return res, err
		}
		defer pg.close()
		res.database = pg.describe(ctx)
	}
	if res.main, err = benchDataset(ctx, o, s, pg, o.rows, nil, extras); err != nil {
		return res, err
	}
	if s.sqlite {
		res.database = sqliteVersion(ctx, sqlitePath(o.work, s, o.rows))
		if res.seed, err = benchSeed(ctx, o); err != nil {
			return res, err
		}
	}
	return res, nil
}

// benchDataset loads a dataset of rows resources into a fresh database with
// `refactor migrate` and `refactor import`, starts the server on it at once
// and measures the queries named in only (all when nil). pg is nil for
// SQLite.
func benchDataset(ctx context.Context, o options, s setup, pg *postgres, rows int, only []string, extras bool) (datasetResult, error) {
	res := datasetResult{rows: rows, largest: accountSizes(rows)[0]}
	file, err := datasetFile(o.work, rows)
	if err != nil {
		return res, err
	}
	var dbURL string
	if pg != nil {
		dbURL, err = pg.freshDatabase(ctx, "bench_"+strconv.Itoa(rows))
	} else {
		dbURL, err = freshSQLite(sqlitePath(o.work, s, rows))
	}
	if err != nil {
		return res, err
	}
	logf("%s: migrating and importing %d rows", s.name, rows)
	migrate, err := runRefactor(ctx, o.bin, dbURL, "migrate")
	if err != nil {
		return res, err
	}
	res.migrateTime = migrate.took
	imp, err := runRefactor(ctx, o.bin, dbURL, "import", "--file", file)
	if err != nil {
		return res, err
	}
	res.importTime, res.importRSS, res.importSaid = imp.took, imp.peakRSS, analyseLines(imp.out)
	logf("%s: imported in %v (%.0f rows/s, peak RSS %d MB)", s.name, res.importTime,
		float64(rows)/res.importTime.Seconds(), res.importRSS>>20)
	var side *sqlSide
	if pg != nil {
		if side, err = openSQLSide(ctx, pg, dbURL); err != nil {
			return res, err
		}
		defer side.close()
	}
	logPath := filepath.Join(o.work, fmt.Sprintf("server-%s-%d.log", s.name, rows))
	srv, err := startServer(ctx, o.bin, dbURL, logPath, o.poolSize)
	if err != nil {
		return res, err
	}
	defer srv.stop()
	var targets []vegeta.Target
	if only == nil && o.sweepDuration > 0 {
		if res.sweep, err = benchSweep(ctx, o, srv, side, rows); err != nil {
			return res, fmt.Errorf("sweep: %w", err)
		}
		if o.only == "sweep" {
			res.peakRSS = srv.peakRSS()
			return res, nil
		}
	}
	for _, q := range mix(rows) {
		if only != nil && !slices.Contains(only, q.name) {
			continue
		}
		qr, err := benchQuery(ctx, o, srv, side, rows, q)
		if err != nil {
			return res, fmt.Errorf("%s: %w", q.name, err)
		}
		res.queries = append(res.queries, qr)
		tok, _ := token(qr.q.account)
		targets = append(targets, target(srv.url+qr.q.path(), tok))
	}
	if o.only == "scale" {
		qr, err := benchGet(ctx, o, srv)
		if err != nil {
			return res, fmt.Errorf("get: %w", err)
		}
		res.queries = append(res.queries, qr)
	}
	if extras {
		if res.compression, err = benchCompression(ctx, o, srv, rows); err != nil {
			return res, fmt.Errorf("compression: %w", err)
		}
		if o.profile > 0 {
			res.profile = filepath.Join(o.work, fmt.Sprintf("cpu-%s-%d.pprof", s.name, rows))
			if res.topCPU, err = profileMix(ctx, o, srv, targets, res.profile); err != nil {
				return res, err
			}
		}
	}
	res.peakRSS = srv.peakRSS()
	return res, nil
}

// sqlSide runs the server's statements on PostgreSQL directly: for their
// plans and pgbench's rate.
type sqlSide struct {
	pg  *postgres
	url string
	db  *store.DB // builds each statement exactly as the server does
	raw *sql.DB
}

func openSQLSide(ctx context.Context, pg *postgres, dbURL string) (*sqlSide, error) {
	db, err := store.Open(ctx, dbURL, store.WithCursorKey([]byte(benchCursorSecret)))
	if err != nil {
		return nil, err
	}
	planURL, err := withServerSettings(dbURL)
	if err != nil {
		db.Close()
		return nil, err
	}
	raw, err := sql.Open("postgres", planURL)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &sqlSide{pg: pg, url: planURL, db: db, raw: raw}, nil
}

// withServerSettings returns dbURL with the server's session settings
// (store.SessionSettings) as its options: EXPLAIN and pgbench then plan
// each statement as the server's connections do. At 10M rows the stock
// settings would compile and parallelise pages that the server runs in
// one process, uncompiled. Both lib/pq and libpq (pgbench) send options at
// start-up.
func withServerSettings(dbURL string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", err
	}
	settings := store.SessionSettings()
	var opts []string
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		opts = append(opts, "-c "+k+"="+settings[k])
	}
	q := u.Query()
	q.Set("options", strings.Join(opts, " "))
	// libpq decodes %20 as a space but leaves a + as it is; Encode
	// escapes a + of the URL's own as %2B.
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return u.String(), nil
}

func (s *sqlSide) close() {
	s.raw.Close()
	s.db.Close()
}

// benchQuery measures one query through the server and, on PostgreSQL
// (side not nil), its statement's plan and pgbench's rate.
func benchQuery(ctx context.Context, o options, srv *serverProc, side *sqlSide, rows int, q query) (queryResult, error) {
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
	t := []vegeta.Target{target(srv.url+q.path(), tok)}
	if o.warmup > 0 {
		attack(t, o.concurrency, o.warmup)
	}
	postmaster := 0
	if side != nil {
		postmaster = side.pg.postmaster()
	}
	before := sampleCPU(srv.cmd.Process.Pid, postmaster)
	r := queryResult{q: q, load: attack(t, o.concurrency, o.duration)}
	r.cpu = per(before, sampleCPU(srv.cmd.Process.Pid, postmaster), float64(r.load.requests))
	logf("%s: %.0f req/s p50 %v p99 %v errors %d", q.name, r.load.rps, r.load.p50, r.load.p99, r.load.errors)
	if side == nil {
		return r, nil
	}
	lq, err := side.db.ListQuery(ctx, q.filter())
	if err != nil {
		return r, err
	}
	r.sql, r.prepared = lq.SQL, lq.Prepared
	if r.explain, err = explain(ctx, side.raw, lq); err != nil {
		return r, err
	}
	if lq.Walk != "" {
		// The server walks first (store.ListQuery.Walk) and runs SQL only
		// when the walk's page does not stand; pgbench runs the walk.
		walk := lq
		walk.SQL, walk.Args, walk.Prepared = lq.Walk, lq.WalkArgs, false
		w, err := explain(ctx, side.raw, walk)
		if err != nil {
			return r, err
		}
		r.sql = lq.Walk + "\n\n-- then, unless the walk's page stands:\n" + lq.SQL
		r.explain = "-- the walk:\n" + w + "\n-- the statement after it, when its page does not stand:\n" + r.explain
		if lq.WalkStands {
			r.sql, r.explain = lq.Walk, "-- the rarest tag's range under the prefix, whose page always stands:\n"+w
		}
		lq = walk
	}
	if o.pgbench {
		// As the server runs it once it has counted a total that no
		// trigger keeps: cached at the account's generation.
		var generation int64
		if err := side.raw.QueryRowContext(ctx, `SELECT generation FROM account_counts WHERE account_id = $1`,
			q.filter().AccountID).Scan(&generation); err != nil {
			return r, err
		}
		script := filepath.Join(o.work, q.name+".sql")
		if r.tps, err = pgbench(ctx, side.url, lq.CachedAt(generation), o.concurrency, o.duration, script); err != nil {
			return r, err
		}
		logf("%s: pgbench %.0f tps", q.name, r.tps)
	}
	return r, nil
}

// profileMix runs all targets in turn while taking a CPU profile of the
// server, and returns, in Markdown, where its CPU went (cpuSplit) and the
// profile's top functions.
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
	traces, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-traces", o.bin, path).Output()
	if err != nil {
		return "", fmt.Errorf("go tool pprof -traces: %w", err)
	}
	var b strings.Builder
	parts, total := cpuSplit(string(traces))
	writeCPUSplit(&b, parts, total)
	return b.String() + "\n```\n" + string(out) + "```\n", nil
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

// commandRun is what runRefactor saw of a command.
type commandRun struct {
	took    time.Duration
	out     string // stdout and stderr
	peakRSS int64  // bytes
}

// runRefactor runs bin with args on databaseURL.
func runRefactor(ctx context.Context, bin, databaseURL string, args ...string) (commandRun, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+databaseURL, "DB_STATEMENT_TIMEOUT=1h")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return commandRun{}, fmt.Errorf("refactor %s: %w\n%s", args[0], err, out)
	}
	run := commandRun{took: time.Since(start), out: string(out)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		run.peakRSS = ru.Maxrss << 10 // KiB on Linux
	}
	return run, nil
}

// analyseLines returns the lines of import's output that tell of its
// analyse (or vacuum) step, for the report.
func analyseLines(out string) []string {
	var lines []string
	for _, l := range strings.FieldsFunc(out, func(r rune) bool { return r == '\n' || r == '\r' }) {
		low := strings.ToLower(l)
		if strings.Contains(low, "analy") || strings.Contains(low, "vacuum") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return lines
}

// sqlitePath is the database file of setup s with rows resources.
func sqlitePath(work string, s setup, rows int) string {
	return filepath.Join(work, fmt.Sprintf("%s-%d.db", s.name, rows))
}

// freshSQLite removes the database at path and returns its URL.
func freshSQLite(path string) (string, error) {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	return "sqlite:" + path, nil
}

// sqliteVersion describes the SQLite library the server embeds.
func sqliteVersion(ctx context.Context, path string) string {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return "SQLite"
	}
	defer db.Close()
	var v string
	db.QueryRowContext(ctx, `SELECT sqlite_version()`).Scan(&v)
	return fmt.Sprintf("SQLite %s (modernc.org/sqlite, in the server's process; a file under the work folder)", v)
}
