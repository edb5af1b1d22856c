// Command refactor-bench is `make bench`: it generates a deterministic
// dataset, loads it with `refactor import`, drives the running server at a
// fixed concurrency over the list queries Q1–Q11, runs the same SQL with
// pgbench for the database's own ceiling, then measures large uploads
// (uploads.go), and writes BENCHMARKS.md.
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
	rows        int
	scale       []int
	duration    time.Duration
	warmup      time.Duration
	concurrency int
	poolSize    int
	bin         string
	work        string
	pgURL       string
	sqlite      bool
	out         string
	notes       string
	profile     time.Duration
	only        string
	uploadMiB   int
}

func main() {
	var o options
	var scale string
	flag.IntVar(&o.rows, "rows", 1_000_000, "resources in the main dataset")
	flag.StringVar(&scale, "scale", "100000,5000000", "more dataset sizes for Q1 and Q2 (comma-separated; empty: none)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "load and pgbench time per query")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each query")
	flag.IntVar(&o.concurrency, "concurrency", 16, "concurrent requests (and pgbench clients)")
	flag.IntVar(&o.poolSize, "pool", 8, "the server's DB_POOL_SIZE")
	flag.StringVar(&o.bin, "refactor", "bin/refactor", "the refactor binary")
	flag.StringVar(&o.work, "work", filepath.Join(os.TempDir(), "refactor-bench"), "folder for datasets, the cluster and logs")
	flag.StringVar(&o.pgURL, "pg-url", os.Getenv("BENCH_DATABASE_URL"), "PostgreSQL admin URL; empty starts a throwaway cluster")
	flag.BoolVar(&o.sqlite, "sqlite", false, "also import the dataset into SQLite and report its rate")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "report to write")
	flag.StringVar(&o.notes, "notes", "bench/notes.md", "hand-written notes to include in the report")
	flag.DurationVar(&o.profile, "profile", 10*time.Second, "CPU profile of the server under the mixed load (0: none)")
	flag.StringVar(&o.only, "only", "", "run one section: list (Q1–Q11, import) or uploads; empty: both")
	flag.IntVar(&o.uploadMiB, "upload-mib", 24, "content of each upload in the uploads section, MiB")
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

func run(ctx context.Context, o options) error {
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	o.bin = bin
	if o.only == "uploads" {
		return benchUploads(ctx, o)
	}
	pg, err := openPostgres(filepath.Join(o.work, "cluster"), o.pgURL)
	if err != nil {
		return err
	}
	defer pg.close()
	rep := &report{opts: o, machine: machine(), postgres: pg.describe(ctx), loadBefore: loadAverage()}
	main, err := benchDataset(ctx, o, pg, o.rows, nil)
	if err != nil {
		return err
	}
	rep.main = main
	for _, n := range o.scale {
		if n == o.rows {
			continue
		}
		r, err := benchDataset(ctx, o, pg, n, []string{"Q1", "Q2"})
		if err != nil {
			return err
		}
		rep.scale = append(rep.scale, r)
	}
	if o.sqlite {
		if rep.sqliteRate, err = importSQLite(ctx, o); err != nil {
			return err
		}
	}
	rep.loadAfter = loadAverage()
	if err := rep.write(o.out); err != nil || o.only == "list" {
		return err
	}
	return benchUploads(ctx, o)
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
