// Command refactor-bench is `make bench`: it generates a deterministic
// dataset and, for each setup (a stock PostgreSQL cluster, a tuned one,
// SQLite), loads it as a user would (`refactor migrate`, `refactor import`)
// and at once drives the server at a fixed concurrency over the list
// queries Q1–Q11, running the same SQL with pgbench for the database's own
// ceiling. Then it runs the request path's Go benchmarks, measures large
// uploads (uploads.go) and downloads through links (links.go), and writes
// BENCHMARKS.md.
//
// It is a benchmark, not a test: run it on an otherwise idle machine.
// Everything it starts listens on loopback and stops when it ends.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

type options struct {
	rows          int
	scale         []int
	duration      time.Duration
	warmup        time.Duration
	concurrency   int
	poolSize      int
	bin           string
	work          string
	pgURL         string
	setups        []setup
	pgbench       bool
	goBenchTime   string
	out           string
	notes         string
	profile       time.Duration
	only          string
	uploadMiB     int
	tusMiB        int
	tusStores     string
	tusRows       string
	linkDownloads int
	sweepDuration time.Duration
	// pgBouncerConfig is the pgbouncer.ini the PgBouncer section starts
	// PgBouncer from: the reference deployment's.
	pgBouncerConfig string
}

func main() {
	var o options
	var scale, setups string
	flag.IntVar(&o.rows, "rows", 1_000_000, "resources in the main dataset")
	flag.StringVar(&scale, "scale", "100000,1000000,10000000", "dataset sizes of -only scale, comma-separated")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "load and pgbench time per query")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each query")
	flag.IntVar(&o.concurrency, "concurrency", 16, "concurrent requests (and pgbench clients)")
	flag.IntVar(&o.poolSize, "pool", 8, "the server's DB_POOL_SIZE")
	flag.StringVar(&o.bin, "refactor", "bin/refactor", "the refactor binary")
	flag.StringVar(&o.work, "work", filepath.Join(os.TempDir(), "refactor-bench"), "folder for datasets, the cluster and logs")
	flag.StringVar(&o.pgURL, "pg-url", os.Getenv("BENCH_DATABASE_URL"), "PostgreSQL admin URL; empty starts a throwaway cluster")
	flag.StringVar(&setups, "setups", "stock,tuned,sqlite", "databases to measure: stock (initdb's settings), tuned, sqlite")
	flag.BoolVar(&o.pgbench, "pgbench", true, "run each statement with pgbench too, for the database's own rate")
	flag.StringVar(&o.goBenchTime, "gobench-time", "1s", "-benchtime of the request path's Go benchmarks (empty: skip them)")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "report to write")
	flag.StringVar(&o.notes, "notes", "bench/notes.md", "hand-written notes to include in the report")
	flag.DurationVar(&o.profile, "profile", 10*time.Second, "CPU profile of the server under the mixed load, on the first setup (0: none)")
	flag.StringVar(&o.only, "only", "", "run one section: list (Q1–Q11, import, the sweep), uploads, links, tus, events, pgbouncer; or sweep or scale, which replace their own section of -out; empty: all")
	flag.IntVar(&o.uploadMiB, "upload-mib", 24, "content of each upload in the uploads section, MiB")
	flag.IntVar(&o.tusMiB, "tus-mib", 2048, "the one upload of the resumable uploads section, MiB (the parallel ones are a quarter each)")
	flag.StringVar(&o.tusStores, "tus-stores", "file,s3", "stores of the resumable uploads section, comma-separated: file, s3")
	flag.StringVar(&o.tusRows, "tus-rows", "one,parallel", "rows of the resumable uploads section, comma-separated: one (the one upload), parallel (the uploads at once)")
	flag.IntVar(&o.linkDownloads, "link-downloads", 20, "downloads of 1 MiB each worker makes per round and way in the links section")
	flag.DurationVar(&o.sweepDuration, "sweep-duration", 2*time.Second, "load per combination of the filter sweep on each setup's main dataset (0: no sweep)")
	flag.StringVar(&o.pgBouncerConfig, "pgbouncer-config", "deploy/pgbouncer.ini", "the pgbouncer.ini of the PgBouncer section (its databases, addresses and authentication are replaced)")
	flag.Parse()
	for f := range strings.SplitSeq(scale, ",") {
		if f = strings.TrimSpace(f); f != "" {
			n, err := strconv.Atoi(f)
			if err != nil {
				fatal(fmt.Errorf("-scale: %w", err))
			}
			o.scale = append(o.scale, n)
		}
	}
	var err error
	if o.setups, err = parseSetups(setups, o.pgURL); err != nil {
		fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "refactor-bench:", err)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// sections are the -only values that run one section of their own; the
// others (list, sweep, empty) run the setups first.
var sections = map[string]func(context.Context, options) error{
	"uploads":   benchUploads,
	"links":     benchLinks,
	"pgbouncer": benchPgBouncer,
	"scale":     benchScale,
	"tus":       benchTus,
	"events":    benchEvents,
}

func run(ctx context.Context, o options) error {
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	o.bin = bin
	if section, ok := sections[o.only]; ok {
		return section(ctx, o)
	}
	rep := &report{opts: o, machine: machine(), loadBefore: loadAverage(), started: time.Now()}
	for i, s := range o.setups {
		r, err := benchSetup(ctx, o, s, i == 0 && o.only != "sweep")
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		rep.setups = append(rep.setups, r)
	}
	if o.only == "sweep" {
		return rep.replaceSweeps(o.out)
	}
	if o.goBenchTime != "" {
		logf("the request path's Go benchmarks")
		rep.goBench = requestPathBench(ctx, o.goBenchTime)
	}
	rep.loadAfter = loadAverage()
	if err := rep.write(o.out); err != nil || o.only == "list" {
		return err
	}
	if err := benchUploads(ctx, o); err != nil {
		return err
	}
	if err := benchLinks(ctx, o); err != nil {
		return err
	}
	if err := benchTus(ctx, o); err != nil {
		return err
	}
	if err := benchEvents(ctx, o); err != nil {
		return err
	}
	return benchPgBouncer(ctx, o)
}

// freshDir empties (or makes) o.work's folder name for a section and
// returns its path.
func freshDir(o options, name string) (string, error) {
	dir := filepath.Join(o.work, name)
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return dir, os.MkdirAll(dir, 0o755)
}

// loadAverage returns the one-minute load average: other work on the
// machine while the benchmark runs shows here, and skews every figure.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}
