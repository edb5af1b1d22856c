package main

import (
	"fmt"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
)

// The targets (issue 11) that are not per query.
const (
	minImportRPS       = 50_000 // PostgreSQL, 1M rows, analyse step included
	minSQLiteImportRPS = 30_000 // SQLite, the same (issue 21)
	maxImportRSS       = 200 << 20
	maxRSS             = 150 << 20
)

// tunedBefore is each query's req/s in BENCHMARKS.md of 2026-11-27 (the tuned
// cluster, with a manual VACUUM (ANALYZE) after the import): the tuned setup
// must not be slower.
var tunedBefore = map[string]float64{"Q1": 1939, "Q2": 882, "Q3": 148, "Q4": 902, "Q5": 3154, "Q6": 1065,
	"Q7": 400, "Q8": 826, "Q9": 2753, "Q10": 713, "Q11": 1124}

// goal is what one query must reach on one setup; zero fields set no limit.
type goal struct {
	minRPS       float64
	maxP99       time.Duration
	maxServerCPU time.Duration
}

func goalFor(s setup, name string) goal {
	var g goal
	switch {
	case s.sqlite:
		g.minRPS = 300
		if slices.Contains([]string{"Q1", "Q5", "Q9"}, name) {
			g.minRPS = 2000
		}
		return g // the server's CPU includes the database's
	case s.name == "tuned":
		g.minRPS = tunedBefore[name]
	default:
		g.minRPS, g.maxP99 = 1000, 50*time.Millisecond
		switch name {
		case "Q3":
			g.minRPS, g.maxP99 = 400, 100*time.Millisecond
		case "Q6":
			g.minRPS, g.maxP99 = 600, 100*time.Millisecond
		case "Q7":
			g.minRPS = 600
		}
	}
	switch name {
	case "Q1":
		g.maxServerCPU = 150 * time.Microsecond
	case "Q5", "Q9":
		g.maxServerCPU = 100 * time.Microsecond
	}
	return g
}

// describe renders g for the table.
func (g goal) describe() string {
	parts := []string{fmt.Sprintf("≥ %.0f req/s", g.minRPS)}
	if g.maxP99 > 0 {
		parts = append(parts, "p99 ≤ "+ms(g.maxP99))
	}
	if g.maxServerCPU > 0 {
		parts = append(parts, fmt.Sprintf("server ≤ %d µs", g.maxServerCPU.Microseconds()))
	}
	return strings.Join(parts, ", ")
}

func (g goal) verdict(q queryResult) string {
	var misses []string
	if q.load.rps < g.minRPS {
		misses = append(misses, "req/s")
	}
	if g.maxP99 > 0 && q.load.p99 > g.maxP99 {
		misses = append(misses, "p99")
	}
	if g.maxServerCPU > 0 && q.cpu.server > g.maxServerCPU {
		misses = append(misses, "server CPU")
	}
	if q.load.errors > 0 {
		misses = append(misses, "errors")
	}
	if misses == nil {
		return "met"
	}
	return "**missed: " + strings.Join(misses, ", ") + "**"
}

type report struct {
	opts    options
	machine string
	setups  []setupResult
	goBench goBenchResult
	started time.Time

	loadBefore, loadAfter string
}

func (r *report) write(path string) error {
	var b strings.Builder
	o := r.opts
	fmt.Fprintf(&b, "# Benchmarks\n\nWritten by `make bench` (the program in `bench/`) on %s. Do not edit: "+
		"run it again. The reading of these figures is in [Notes](#notes) below and in "+
		"[docs/scaling.md](docs/scaling.md).\n\n", time.Now().UTC().Format("2006-01-02"))
	var names []string
	for _, s := range r.setups {
		names = append(names, s.setup.name)
	}
	fmt.Fprintf(&b, "Measured as users run it: each setup's database is created empty, loaded by `refactor migrate` "+
		"and `refactor import` (which analyses what it loaded), and the server is started and measured as "+
		"soon as import returns, with no VACUUM, ANALYZE or setting of the benchmark's own in between. "+
		"Setups this run: %s. The cost curve (every query at 100,000, 1,000,000 and 10,000,000 rows) is "+
		"opt-in and long: `make bench-scale` replaces its section below.\n\n", strings.Join(names, ", "))
	fmt.Fprintf(&b, "- Machine: %s; one-minute load average %s at the start, %s at the end "+
		"(above zero means other work shared the CPU); the run up to the uploads section took %.0f minutes\n",
		r.machine, r.loadBefore, r.loadAfter, time.Since(r.started).Minutes())
	fmt.Fprintf(&b, "- Dataset: %d resources over %d accounts (largest `%s`: %d), 1–5 tags each from %d "+
		"(Zipf-skewed), paths 1–5 deep, two years of `created_at` with ties\n",
		o.rows, numAccounts, largestAcct, accountSizes(o.rows)[0], numTags)
	fmt.Fprintf(&b, "- Load: closed loop at concurrency %d for %v per query after %v of warm-up "+
		"(vegeta as a library, keep-alive); the server with `DB_POOL_SIZE=%d`. pgbench: the same "+
		"statement and parameters, `-M prepared` where the server prepares it and `-M extended` "+
		"where it does not (see each plan below), %d clients, 2 threads, %v\n",
		o.concurrency, o.duration, o.warmup, o.poolSize, o.concurrency, o.duration)
	b.WriteString("- CPU µs/request: the server's, the database's (PostgreSQL's postmaster and backends, from " +
		"`/proc`; SQLite runs inside the server) and the load generator's, over the measured load divided " +
		"by its requests\n")
	for _, s := range r.setups {
		writeSetup(&b, s)
	}
	r.writeSweep(&b)
	// The cost curve is measured by make bench-scale alone: keep its
	// section from the report this one replaces.
	if old, err := os.ReadFile(path); err == nil {
		if body, ok := findSection(string(old), "scale"); ok {
			b.WriteString(section("scale", body))
		}
	}
	r.goBench.write(&b)
	if len(r.setups) > 0 {
		writeCompression(&b, r.setups[0].setup, r.setups[0].main.compression, o.concurrency, o.duration)
	}
	if notes, err := os.ReadFile(o.notes); err == nil {
		b.WriteString("\n## Notes\n\n" + string(notes) + "\n")
	} else {
		fmt.Fprintf(os.Stderr, "refactor-bench: no notes: %v\n", err)
	}
	r.writeDetails(&b)
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func writeSetup(b *strings.Builder, s setupResult) {
	m := s.main
	fmt.Fprintf(b, "\n## %s\n\n- Database: %s\n", s.setup.title, s.database)
	rate := float64(m.rows) / m.importTime.Seconds()
	fmt.Fprintf(b, "- Import: `refactor import` of %d rows took %.1f s as the command ran, its analyse step "+
		"included: **%.0f rows/s**", m.rows, m.importTime.Seconds(), rate)
	target := minImportRPS
	if s.setup.sqlite {
		target = minSQLiteImportRPS
	}
	fmt.Fprintf(b, " (target %d: %s), peak RSS %.0f MB (target %d MB: %s)", target, met(rate >= float64(target)),
		float64(m.importRSS)/(1<<20), maxImportRSS>>20, met(m.importRSS <= maxImportRSS))
	fmt.Fprintf(b, "; `refactor migrate` before it: %.1f s\n", m.migrateTime.Seconds())
	if len(m.importSaid) > 0 {
		fmt.Fprintf(b, "- Import's own account of its analyse step: `%s`\n", strings.Join(m.importSaid, "`; `"))
	}
	if s.setup.sqlite {
		fmt.Fprintf(b, "- `refactor serve --ephemeral --seed` of %d rows of the same shape (in memory): ready in **%.1f s** "+
			"from the command's start (target %.0f s: %s), peak RSS %.0f MB\n", seedRows, s.seed.took.Seconds(),
			maxSeedTime.Seconds(), met(s.seed.took <= maxSeedTime), float64(s.seed.peakRSS)/(1<<20))
	}
	fmt.Fprintf(b, "- Server peak RSS (VmHWM) over this setup's run: **%.0f MB** (target %d MB: %s)\n\n",
		float64(m.peakRSS)/(1<<20), maxRSS>>20, met(m.peakRSS <= maxRSS))
	if s.setup.sqlite {
		b.WriteString("| query | what | server req/s | p50 | p99 | errors | targets | verdict | CPU µs/request: server with SQLite / load generator |\n")
		b.WriteString("|---|---|--:|--:|--:|--:|---|---|--:|\n")
	} else {
		b.WriteString("| query | what | server req/s | p50 | p99 | errors | pgbench tps | ratio | targets | verdict | CPU µs/request: server / PostgreSQL / load generator |\n")
		b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|---|---|--:|\n")
	}
	for _, q := range m.queries {
		g := goalFor(s.setup, q.q.name)
		fmt.Fprintf(b, "| %s | %s | %.0f | %s | %s | %d |", q.q.name, q.q.about, q.load.rps, ms(q.load.p50),
			ms(q.load.p99), q.load.errors)
		if s.setup.sqlite {
			fmt.Fprintf(b, " %s | %s | %d / %d |\n", g.describe(), g.verdict(q),
				q.cpu.server.Microseconds(), q.cpu.loadgen.Microseconds())
			continue
		}
		tps, ratio := "—", "—"
		if q.tps > 0 {
			tps, ratio = fmt.Sprintf("%.0f", q.tps), fmt.Sprintf("%.2f", q.load.rps/q.tps)
		}
		fmt.Fprintf(b, " %s | %s | %s | %s | %d / %d / %d |\n", tps, ratio, g.describe(), g.verdict(q),
			q.cpu.server.Microseconds(), q.cpu.postgres.Microseconds(), q.cpu.loadgen.Microseconds())
	}
	if s.setup.name == "tuned" {
		b.WriteString("\nThe tuned setup's targets are the req/s of the 2026-11-27 run (these settings and a manual " +
			"`VACUUM (ANALYZE)` after the import): no query may be slower.\n")
	}
	if m.profile != "" {
		fmt.Fprintf(b, "\nCPU profile of the server under the mixed load: `%s` (top functions below).\n", m.profile)
	}
}

// sweepIntro heads the sweeps of all setups.
const sweepIntro = "\n## Every filter combination\n\nWritten by `make bench` (or alone by " +
	"`make bench BENCH_FLAGS=-only\\ sweep`, which replaces the sections of the setups it runs).\n"

// writeSweep writes the sweep of every setup that ran one, each in a
// section of its own that a -only sweep run of that setup replaces.
func (r *report) writeSweep(b *strings.Builder) {
	b.WriteString(sweepIntro)
	for _, s := range r.setups {
		var body strings.Builder
		s.main.sweep.write(&body, s.setup, s.main.rows)
		b.WriteString(section("sweep-"+s.setup.name, body.String()))
	}
}

// replaceSweeps writes each setup's sweep over its section of the report
// at path.
func (r *report) replaceSweeps(path string) error {
	for _, s := range r.setups {
		var body strings.Builder
		s.main.sweep.write(&body, s.setup, s.main.rows)
		if err := replaceSection(path, "sweep-"+s.setup.name, body.String()); err != nil {
			return err
		}
	}
	return nil
}

func (g goBenchResult) write(b *strings.Builder) {
	if g.command == "" {
		return
	}
	fmt.Fprintf(b, "\n## The request path without a database server (Go benchmarks)\n\n`%s`: the server's "+
		"router, a real signed token, request validation, the handler and the JSON response over a store in "+
		"memory (SQLite), one request per operation; the store's part is the same query straight to the "+
		"store, so the difference is the server's own cost per request.\n\n", g.command)
	if g.skipped != "" {
		b.WriteString("Skipped: " + g.skipped + ".\n")
		return
	}
	b.WriteString("| request | whole path µs | bytes/request | allocations/request | store's part µs | store's allocations | server without the store µs | its allocations |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range g.rows {
		fmt.Fprintf(b, "| %s | %.1f | %d | %d |", r.name, r.path.nsPerOp/1000, r.path.bytesPerOp, r.path.allocsPerOp)
		if r.store == nil {
			b.WriteString(" — | — | — | — |\n")
			continue
		}
		fmt.Fprintf(b, " %.1f | %d | %.1f | %d |\n", r.store.nsPerOp/1000, r.store.allocsPerOp,
			(r.path.nsPerOp-r.store.nsPerOp)/1000, r.path.allocsPerOp-r.store.allocsPerOp)
	}
}

func (r *report) writeDetails(b *strings.Builder) {
	if len(r.setups) > 0 && r.setups[0].main.topCPU != "" {
		fmt.Fprintf(b, "\n## CPU profile (server, mixed Q1–Q11 load, %s)\n%s",
			r.setups[0].setup.title, r.setups[0].main.topCPU)
	}
	var first *setupResult
	for i, s := range r.setups {
		if s.setup.sqlite {
			continue
		}
		if first == nil {
			first = &r.setups[i]
			writePlans(b, s)
			continue
		}
		writePlanShapes(b, s, *first)
	}
}

// writePlans writes each query's statement and plan.
func writePlans(b *strings.Builder, s setupResult) {
	fmt.Fprintf(b, "\n## Plans: EXPLAIN (ANALYZE, BUFFERS), %s, %d rows, after the load\n", s.setup.title, s.main.rows)
	for _, q := range s.main.queries {
		how := "planned for its values on every request"
		if q.prepared {
			how = "a prepared statement"
		}
		fmt.Fprintf(b, "\n### %s: %s\n\n`GET %s` (%s)\n\n```sql\n%s\n```\n\n```\n%s```\n",
			q.q.name, q.q.about, shortPath(q.q.path()), how, strings.TrimSpace(q.sql), q.explain)
	}
}

// writePlanShapes writes s's plans where their shape differs from base's,
// and says so where it does not.
func writePlanShapes(b *strings.Builder, s, base setupResult) {
	fmt.Fprintf(b, "\n## Plans: %s, compared with %s\n\n", s.setup.title, base.setup.title)
	var same []string
	for _, q := range s.main.queries {
		if planShape(q.explain) == planShape(base.main.queries.find(q.q.name).explain) {
			same = append(same, q.q.name)
			continue
		}
		fmt.Fprintf(b, "### %s: %s (a different plan)\n\n```\n%s```\n\n", q.q.name, q.q.about, q.explain)
	}
	if len(same) > 0 {
		fmt.Fprintf(b, "The same plan shape (nodes and indexes) as %s: %s.\n", base.setup.title, strings.Join(same, ", "))
	}
}

var planDetail = regexp.MustCompile(`\(cost=[^)]*\)|\(actual[^)]*\)|^\s*(Buffers|Planning|Execution|Heap Fetches|Rows Removed|Sort Method|Worker|I/O Timings|Memory Usage|Batches|Heap Blocks|JIT|Functions|Options|Timing).*$`)

// planShape is a plan without its figures: which nodes, in which order, on
// which indexes.
func planShape(explain string) string {
	var lines []string
	for line := range strings.Lines(explain) {
		if l := strings.TrimRight(planDetail.ReplaceAllString(strings.TrimRight(line, "\n"), ""), " "); strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// shortPath cuts a long cursor so the report stays readable.
func shortPath(p string) string {
	if i := strings.Index(p, "cursor="); i >= 0 && len(p) > i+40 {
		return p[:i+40] + "…"
	}
	return p
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// machine describes the CPU, memory and OS.
func machine() string {
	cpu, mem, osName := "unknown CPU", "", runtime.GOOS
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%d", &kb)
		mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				osName = strings.Trim(strings.TrimSpace(v), `"`)
			}
		}
	}
	return fmt.Sprintf("%s, %d cores%s, %s, %s", cpu, runtime.NumCPU(), mem, osName, runtime.Version())
}
