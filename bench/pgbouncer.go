package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/re-factor/resources/store/storetest"
)

const (
	pgBouncerHeading    = "## Through PgBouncer"
	pgBouncerNextBefore = uploadsHeading
	// pgBouncerRounds alternate the two ways, so that drift in the
	// machine's load falls on both.
	pgBouncerRounds = 2
	// maxPgBouncerLoss is the target: through PgBouncer each request's rate
	// is within 20% of the direct one's.
	maxPgBouncerLoss = 0.20
)

// pgBouncerRow is one request measured both ways.
type pgBouncerRow struct {
	name, about    string
	direct, pooled loadResult // summed over the rounds: rps is their mean
	// bouncerCPU is PgBouncer's own CPU time over the pooled rounds: the
	// hop's cost, which shares the machine's cores with everything else.
	bouncerCPU time.Duration
}

type pgBouncerResult struct {
	loadBefore, loadAfter string
	rows                  int
	version, config       string
	rowsMeasured          []*pgBouncerRow
}

// benchPgBouncer loads the dataset into a stock PostgreSQL cluster of its
// own and runs two servers on it, one connected directly and one through
// PgBouncer in transaction mode with the deployment's pgbouncer.ini; then
// sends Q1, Q9 and a get by id to each in turn, in rounds, at the
// benchmark's concurrency.
func benchPgBouncer(ctx context.Context, o options) error {
	config, err := os.ReadFile(o.pgBouncerConfig)
	if err != nil {
		return fmt.Errorf("-pgbouncer-config: %w", err)
	}
	pg, err := openPostgres(filepath.Join(o.work, "cluster-pgbouncer"), o.pgURL, nil)
	if err != nil {
		return err
	}
	defer pg.close()
	file, err := datasetFile(o.work, o.rows)
	if err != nil {
		return err
	}
	const dbName = "bench_pgbouncer"
	dbURL, err := pg.freshDatabase(ctx, dbName)
	if err != nil {
		return err
	}
	logf("pgbouncer: migrating and importing %d rows", o.rows)
	if _, err := runRefactor(ctx, o.bin, dbURL, "migrate"); err != nil {
		return err
	}
	if _, err := runRefactor(ctx, o.bin, dbURL, "import", "--file", file); err != nil {
		return err
	}
	dir := filepath.Join(o.work, "pgbouncer")
	os.RemoveAll(dir)
	bouncer, err := storetest.StartPgBouncerConfig(dir, dbURL, string(config))
	if err != nil {
		return err
	}
	defer bouncer.Stop()
	direct, err := startServer(ctx, o.bin, dbURL, filepath.Join(o.work, "server-direct.log"), pgBouncerPool(o))
	if err != nil {
		return err
	}
	defer direct.stop()
	pooled, err := startServer(ctx, o.bin, bouncer.URL(dbName), filepath.Join(o.work, "server-pgbouncer.log"), pgBouncerPool(o))
	if err != nil {
		return err
	}
	defer pooled.stop()

	res := pgBouncerResult{loadBefore: loadAverage(), rows: o.rows, version: pgBouncerVersion(), config: o.pgBouncerConfig}
	targets, err := pgBouncerTargets(ctx, direct.url, o.rows)
	if err != nil {
		return err
	}
	for _, t := range targets {
		res.rowsMeasured = append(res.rowsMeasured, &pgBouncerRow{name: t.name, about: t.about})
	}
	for round := range pgBouncerRounds {
		for i, t := range targets {
			row := res.rowsMeasured[i]
			for _, way := range []struct {
				srv *serverProc
				sum *loadResult
			}{{direct, &row.direct}, {pooled, &row.pooled}} {
				vt := []vegeta.Target{target(way.srv.url+t.path, t.tok)}
				if o.warmup > 0 && round == 0 {
					attack(vt, o.concurrency, o.warmup)
				}
				cpu := processCPU(bouncer.Pid())
				r := attack(vt, o.concurrency, o.duration)
				addLoad(way.sum, r)
				if way.srv == pooled {
					row.bouncerCPU += processCPU(bouncer.Pid()) - cpu
				}
			}
			logf("pgbouncer: round %d %s: direct %.0f req/s (%d errors), through PgBouncer %.0f req/s (%d errors)",
				round+1, t.name, row.direct.rps/float64(round+1), row.direct.errors, row.pooled.rps/float64(round+1), row.pooled.errors)
		}
	}
	for _, row := range res.rowsMeasured {
		row.direct.rps /= pgBouncerRounds
		row.pooled.rps /= pgBouncerRounds
	}
	res.loadAfter = loadAverage()
	return spliceSection(o.out, pgBouncerHeading, pgBouncerNextBefore, res.markdown(o))
}

// addLoad adds r's counts and rate to sum; its latencies are the worst
// round's.
func addLoad(sum *loadResult, r loadResult) {
	sum.rps += r.rps
	sum.requests += r.requests
	sum.errors += r.errors
	sum.p50, sum.p99 = max(sum.p50, r.p50), max(sum.p99, r.p99)
}

type pgBouncerTarget struct {
	name, about, path, tok string
}

// pgBouncerTargets are Q1, Q9 and a get of the first resource Q1 lists.
func pgBouncerTargets(ctx context.Context, base string, rows int) ([]pgBouncerTarget, error) {
	var out []pgBouncerTarget
	for _, q := range mix(rows) {
		if q.name != "Q1" && q.name != "Q9" {
			continue
		}
		tok, err := token(q.account)
		if err != nil {
			return nil, err
		}
		out = append(out, pgBouncerTarget{name: q.name, about: q.about, path: q.path(), tok: tok})
	}
	first := out[0]
	id, err := firstID(ctx, base, first.path, first.tok)
	if err != nil {
		return nil, fmt.Errorf("Q1 for a resource to get: %w", err)
	}
	return append(out, pgBouncerTarget{name: "get", about: "one resource by id (largest account)",
		path: "/v1/resource/" + id, tok: first.tok}), nil
}

// processCPU is the user and system time of process pid so far.
func processCPU(pid int) time.Duration {
	if f := procStat(pid); len(f) > 12 {
		return ticks(f[11]) + ticks(f[12])
	}
	return 0
}

func pgBouncerVersion() string {
	out, err := exec.Command(storetest.PgBouncerBin(), "--version").Output()
	if err != nil {
		return "PgBouncer"
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}

// pgBouncerPool is both servers' DB_POOL_SIZE: at least one connection
// for each concurrent request. With fewer, requests queue for the pool,
// and the hop's added latency becomes lost throughput: the pool's sizing,
// not PgBouncer's cost (bench/notes.md has the figures).
func pgBouncerPool(o options) int { return max(o.poolSize, o.concurrency) }

func (r pgBouncerResult) markdown(o options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nWritten by `make bench` (`make bench BENCH_FLAGS=\"-only pgbouncer\"` runs this section alone) on %s; "+
		"one-minute load average %s at the start, %s at the end. One PostgreSQL cluster with stock settings holds the "+
		"%d-row dataset; two `refactor serve` run on it with `DB_POOL_SIZE=%d` (a database connection for each concurrent "+
		"request in both, so that the rows compare the hop, not a queue for the pool), one connected directly, one through %s "+
		"started from `%s` (`pool_mode = transaction`, PgBouncer's defaults otherwise; the URL carries "+
		"`pool_mode=transaction`). %d concurrent connections send one request over and over for %v, to one server "+
		"then the other, in %d rounds; req/s is the rounds' mean, p99 the worst round's.\n\n",
		pgBouncerHeading, time.Now().UTC().Format("2006-01-02"), r.loadBefore, r.loadAfter, r.rows, pgBouncerPool(o),
		r.version, r.config, o.concurrency, o.duration, pgBouncerRounds)
	b.WriteString("PgBouncer is one more process on the request's path, on the same two cores as the load generator, " +
		"the server and PostgreSQL: its CPU a request (user and system time over the rounds through it) is what the " +
		"hop costs, and on this machine it comes out of the other processes' share; on a deployment it runs on a core " +
		"of its own, which serves about a second divided by that figure requests a second.\n\n")
	b.WriteString("| request | direct req/s | through PgBouncer req/s | PgBouncer / direct | p99 direct | p99 through PgBouncer | PgBouncer's CPU a request | errors (direct, PgBouncer) | target: within 20%, 0 errors |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, row := range r.rowsMeasured {
		ratio := row.pooled.rps / max(row.direct.rps, 1e-9)
		ok := ratio >= 1-maxPgBouncerLoss && row.direct.errors == 0 && row.pooled.errors == 0
		perRequest := float64(row.bouncerCPU.Microseconds()) / float64(max(row.pooled.requests, 1))
		fmt.Fprintf(&b, "| %s: %s | %.0f | %.0f | **%.2f** | %s | %s | %.0f µs | %d, %d | %s |\n", row.name, row.about,
			row.direct.rps, row.pooled.rps, ratio, ms(row.direct.p99), ms(row.pooled.p99), perRequest,
			row.direct.errors, row.pooled.errors, met(ok))
	}
	b.WriteString("\n")
	return b.String()
}
