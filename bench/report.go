package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// The targets.
const (
	minRatio     = 0.7
	maxP99       = 25 * time.Millisecond
	maxP99Deep   = 50 * time.Millisecond // Q7
	minImportRPS = 50_000
	maxRSS       = 150 << 20
)

type report struct {
	opts       options
	machine    string
	postgres   string
	main       datasetResult
	scale      []datasetResult
	sqliteRate float64

	loadBefore, loadAfter string
}

func (r *report) write(path string) error {
	var b strings.Builder
	o := r.opts
	fmt.Fprintf(&b, "# Benchmarks\n\nWritten by `make bench` (the program in `bench/`) on %s. Do not edit: "+
		"run it again. The reading of these figures is in [Notes](#notes) below and in "+
		"[docs/scaling.md](docs/scaling.md).\n\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "- Machine: %s; one-minute load average %s at the start, %s at the end "+
		"(above zero means other work shared the CPU)\n- Database: %s\n", r.machine, r.loadBefore, r.loadAfter, r.postgres)
	fmt.Fprintf(&b, "- Dataset: %d resources over %d accounts (largest `%s`: %d), 1–5 tags each from %d "+
		"(Zipf-skewed), paths 1–5 deep, two years of `created_at` with ties; `refactor import`, then "+
		"`VACUUM (ANALYZE)`\n", r.main.rows, numAccounts, largestAcct, r.main.largest, numTags)
	fmt.Fprintf(&b, "- Load: closed loop at concurrency %d for %v per query after %v of warm-up "+
		"(vegeta as a library, keep-alive); the server with `DB_POOL_SIZE=%d`. pgbench: the same "+
		"statement and parameters, `-M prepared` where the server prepares it and `-M extended` "+
		"where it does not (see each plan below), %d clients, 2 threads, %v\n\n",
		o.concurrency, o.duration, o.warmup, o.poolSize, o.concurrency, o.duration)
	b.WriteString("| query | what | server req/s | p50 | p99 | errors | pgbench tps | ratio | targets | CPU µs/request: server / load generator / PostgreSQL |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|---|--:|\n")
	for _, q := range r.main.queries {
		fmt.Fprintf(&b, "| %s | %s | %.0f | %s | %s | %d | %.0f | %.2f | %s | %d / %d / %d |\n", q.q.name, q.q.about,
			q.load.rps, ms(q.load.p50), ms(q.load.p99), q.load.errors, q.tps, q.load.rps/q.tps, verdict(q),
			q.cpu.server.Microseconds(), q.cpu.loadgen.Microseconds(), q.cpu.postgres.Microseconds())
	}
	b.WriteString("\n")
	r.writeFigures(&b)
	r.writeScale(&b)
	writeCompression(&b, r.main.compression, o.concurrency, o.duration)
	if notes, err := os.ReadFile(o.notes); err == nil {
		b.WriteString("\n## Notes\n\n" + string(notes) + "\n")
	} else {
		fmt.Fprintf(os.Stderr, "refactor-bench: no notes: %v\n", err)
	}
	r.writeDetails(&b)
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func (r *report) writeFigures(b *strings.Builder) {
	m := r.main
	rate := float64(m.rows) / m.importTime.Seconds()
	fmt.Fprintf(b, "- Import into PostgreSQL: %d rows in %.1f s = **%.0f rows/s** (target %d: %s); "+
		"`VACUUM (ANALYZE)` after it: %.1f s\n", m.rows, m.importTime.Seconds(), rate, minImportRPS,
		met(rate >= minImportRPS), m.vacuumTime.Seconds())
	if r.sqliteRate > 0 {
		fmt.Fprintf(b, "- Import into SQLite: **%.0f rows/s**\n", r.sqliteRate)
	}
	fmt.Fprintf(b, "- Server peak RSS (VmHWM) over the whole run: **%.0f MB** (target 150 MB: %s)\n",
		float64(m.peakRSS)/(1<<20), met(m.peakRSS <= maxRSS))
	if m.profile != "" {
		fmt.Fprintf(b, "- CPU profile of the server under the mixed load: `%s` (top functions below)\n", m.profile)
	}
}

func (r *report) writeScale(b *strings.Builder) {
	all := append([]datasetResult{r.main}, r.scale...)
	if len(all) < 2 {
		return
	}
	b.WriteString("\n### Q1 and Q2 as the data grows\n\n")
	b.WriteString("| rows | largest account | import rows/s | Q1 req/s | Q1 p50 | Q1 p99 | Q1 pgbench tps | Q2 req/s | Q2 p50 | Q2 p99 | Q2 pgbench tps |\n")
	b.WriteString("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, d := range sortedByRows(all) {
		fmt.Fprintf(b, "| %d | %d | %.0f |", d.rows, d.largest, float64(d.rows)/d.importTime.Seconds())
		for _, name := range []string{"Q1", "Q2"} {
			q := d.find(name)
			fmt.Fprintf(b, " %.0f | %s | %s | %.0f |", q.load.rps, ms(q.load.p50), ms(q.load.p99), q.tps)
		}
		b.WriteString("\n")
	}
}

func (r *report) writeDetails(b *strings.Builder) {
	if r.main.topCPU != "" {
		b.WriteString("\n## CPU profile (server, mixed Q1–Q11 load)\n\n```\n" + r.main.topCPU + "```\n")
	}
	b.WriteString("\n## Plans: EXPLAIN (ANALYZE, BUFFERS), 1M rows, after the load\n")
	for _, q := range r.main.queries {
		how := "planned for its values on every request"
		if q.prepared {
			how = "a prepared statement"
		}
		fmt.Fprintf(b, "\n### %s: %s\n\n`GET %s` (%s)\n\n```sql\n%s\n```\n\n```\n%s```\n",
			q.q.name, q.q.about, shortPath(q.q.path()), how, strings.TrimSpace(q.sql), q.explain)
	}
}

func (d datasetResult) find(name string) queryResult {
	for _, q := range d.queries {
		if q.q.name == name {
			return q
		}
	}
	return queryResult{}
}

func sortedByRows(ds []datasetResult) []datasetResult {
	out := append([]datasetResult(nil), ds...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].rows < out[i].rows {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// shortPath cuts a long cursor so the report stays readable.
func shortPath(p string) string {
	if i := strings.Index(p, "cursor="); i >= 0 && len(p) > i+40 {
		return p[:i+40] + "…"
	}
	return p
}

func verdict(q queryResult) string {
	limit := maxP99
	if q.q.name == "Q7" {
		limit = maxP99Deep
	}
	var misses []string
	if q.tps > 0 && q.load.rps/q.tps < minRatio {
		misses = append(misses, "ratio")
	}
	if q.load.p99 > limit {
		misses = append(misses, "p99")
	}
	if q.load.errors > 0 {
		misses = append(misses, "errors")
	}
	if misses == nil {
		return "met"
	}
	return "**missed: " + strings.Join(misses, ", ") + "**"
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
