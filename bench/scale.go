package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// scaleQueries must stay within scaleRatio of their 1M-row req/s at 10M
// rows (issue 21): first pages, filtered first pages, cursor pages and a
// get by id.
var scaleQueries = []string{"Q1", "Q5", "Q9", "Q10", "Q11", "get"}

const scaleRatio = 1.5

// scaleResult is one setup's queries at each -scale size.
type scaleResult struct {
	setup    setup
	database string
	sizes    []datasetResult
	load     [2]string // one-minute load average before and after
}

// benchScale is `make bench-scale`: for each setup, every query of the mix
// at each -scale size, loaded as users load it; it replaces the report's
// cost-curve section and writes a chart of each setup's req/s against size
// beside the report.
func benchScale(ctx context.Context, o options) error {
	o.sweepDuration = 0
	var results []scaleResult
	for _, s := range o.setups {
		r := scaleResult{setup: s, load: [2]string{loadAverage(), ""}}
		var pg *postgres
		var err error
		if !s.sqlite {
			if pg, err = openPostgres(filepath.Join(o.work, "cluster-"+s.name), o.pgURL, s.settings); err != nil {
				return err
			}
			r.database = pg.describe(ctx)
		}
		for _, n := range o.scale {
			d, err := benchDataset(ctx, o, s, pg, n, nil, false)
			if err != nil {
				if pg != nil {
					pg.close()
				}
				return fmt.Errorf("%s, %d rows: %w", s.name, n, err)
			}
			r.sizes = append(r.sizes, d)
			if pg != nil {
				// Each size is a database of its own: drop the one done
				// with, for the disk's sake.
				pg.dropDatabase(ctx, "bench_"+fmt.Sprint(n))
			} else {
				freshSQLite(sqlitePath(o.work, s, n))
			}
		}
		if pg != nil {
			pg.close()
		} else {
			r.database = "SQLite, in the server's process"
		}
		r.load[1] = loadAverage()
		results = append(results, r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n## The cost curve: every query as the data grows\n\nWritten by `make bench-scale` "+
		"(%s; it replaces this section of the report). Each size is loaded as users load it (`refactor migrate`, "+
		"`refactor import`), the largest account growing with the total; each query runs %v after %v of warm-up "+
		"at concurrency %d. Target (issue 21): %s within %.1f× of their 1,000,000-row req/s at 10,000,000 rows.\n",
		time.Now().UTC().Format("2006-01-02"), o.duration, o.warmup, o.concurrency,
		strings.Join(scaleQueries, ", "), scaleRatio)
	for _, r := range results {
		chart := filepath.Join("bench", "scale-"+r.setup.name+".svg")
		if err := os.WriteFile(filepath.Join(filepath.Dir(o.out), chart), []byte(r.chart()), 0o644); err != nil {
			return err
		}
		r.write(&b, chart)
	}
	return replaceSection(o.out, "scale", b.String())
}

// write writes r's table and embeds its chart.
func (r scaleResult) write(b *strings.Builder, chart string) {
	fmt.Fprintf(b, "\n### %s\n\n- Database: %s\n- One-minute load average %s before, %s after "+
		"(other work on the machine lowers these figures)\n\n![req/s against rows, %s](%s)\n\n",
		r.setup.title, r.database, r.load[0], r.load[1], r.setup.title, chart)
	b.WriteString("| rows | largest account | import rows/s |")
	names := r.names()
	for _, n := range names {
		b.WriteString(" " + n + " req/s |")
	}
	b.WriteString("\n|--:|--:|--:|" + strings.Repeat("--:|", len(names)) + "\n")
	for _, d := range r.sizes {
		fmt.Fprintf(b, "| %d | %d | %.0f |", d.rows, d.largest, float64(d.rows)/d.importTime.Seconds())
		for _, n := range names {
			fmt.Fprintf(b, " %.0f |", d.queries.find(n).load.rps)
		}
		b.WriteString("\n")
	}
	base, top := r.size(1_000_000), r.size(10_000_000)
	if base == nil || top == nil {
		b.WriteString("\nThe 1.5× target needs both the 1,000,000- and the 10,000,000-row sizes: not judged in this run.\n")
		return
	}
	b.WriteString("\n| query | 1M req/s | 10M req/s | ratio | within 1.5× |\n|---|--:|--:|--:|---|\n")
	for _, n := range scaleQueries {
		x, y := base.queries.find(n).load.rps, top.queries.find(n).load.rps
		fmt.Fprintf(b, "| %s | %.0f | %.0f | %.2f | %s |\n", n, x, y, x/y, met(x <= scaleRatio*y))
	}
}

func (r scaleResult) names() []string {
	var names []string
	for _, q := range mix(1) {
		names = append(names, q.name)
	}
	return append(names, "get")
}

// benchGet measures a get by id of the first resource Q1 lists, as the
// scale's queries are measured.
func benchGet(ctx context.Context, o options, srv *serverProc) (queryResult, error) {
	q1 := mix(1)[0]
	tok, err := token(q1.account)
	if err != nil {
		return queryResult{}, err
	}
	id, err := firstID(ctx, srv.url, q1.path(), tok)
	if err != nil {
		return queryResult{}, err
	}
	t := []vegeta.Target{target(srv.url+"/v1/resource/"+id, tok)}
	if o.warmup > 0 {
		attack(t, o.concurrency, o.warmup)
	}
	r := queryResult{q: query{name: "get", about: "one resource by id (largest account)", account: q1.account},
		load: attack(t, o.concurrency, o.duration)}
	logf("get: %.0f req/s p50 %v p99 %v errors %d", r.load.rps, r.load.p50, r.load.p99, r.load.errors)
	return r, nil
}

func (r scaleResult) size(rows int) *datasetResult {
	for i := range r.sizes {
		if r.sizes[i].rows == rows {
			return &r.sizes[i]
		}
	}
	return nil
}

// chartColors tell the queries apart (a qualitative palette).
var chartColors = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
	"#7f7f7f", "#bcbd22", "#17becf", "#000000", "#aec7e8"}

// chart draws each query's req/s against rows (a logarithmic axis) as an
// SVG of its own, with nothing but the standard library.
func (r scaleResult) chart() string {
	const w, h, left, right, top, bottom = 760.0, 440.0, 70.0, 150.0, 40.0, 50.0
	sizes := slices.Clone(r.sizes)
	slices.SortFunc(sizes, func(a, b datasetResult) int { return a.rows - b.rows })
	var maxRPS float64
	for _, d := range sizes {
		for _, q := range d.queries {
			maxRPS = max(maxRPS, q.load.rps)
		}
	}
	maxRPS = niceCeil(maxRPS)
	lo, hi := math.Log10(float64(sizes[0].rows)), math.Log10(float64(sizes[len(sizes)-1].rows))
	if hi == lo {
		hi = lo + 1
	}
	x := func(rows int) float64 { return left + (math.Log10(float64(rows))-lo)/(hi-lo)*(w-left-right) }
	y := func(rps float64) float64 { return h - bottom - rps/maxRPS*(h-top-bottom) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="20" font-size="14">%s: server req/s against rows (concurrency 16)</text>`+"\n", left, r.setup.title)
	for i := 0; i <= 5; i++ {
		v := maxRPS * float64(i) / 5
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, w-right, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%.0f</text>`+"\n", left-6, y(v)+4, v)
	}
	for _, d := range sizes {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.0f" y2="%.0f" stroke="#ddd"/>`+"\n", x(d.rows), x(d.rows), top, h-bottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n", x(d.rows), h-bottom+18, rowsLabel(d.rows))
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">rows (log scale)</text>`+"\n", (left+w-right)/2, h-10)
	for i, name := range r.names() {
		var pts []string
		var last float64
		for _, d := range sizes {
			last = d.queries.find(name).load.rps
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(d.rows), y(last)))
		}
		c := chartColors[i%len(chartColors)]
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", c, strings.Join(pts, " "))
		for _, p := range pts {
			xy := strings.Split(p, ",")
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", xy[0], xy[1], c)
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" fill="%s">%s (%.0f)</text>`+"\n", w-right+10, top+14+float64(i)*16, c, name, last)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func rowsLabel(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}
