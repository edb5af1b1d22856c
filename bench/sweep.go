package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/re-factor/resources/internal/testkit"
)

// sweepWorst is how many of the sweep's slowest combinations are measured
// again for the full duration and shown with their plans.
const sweepWorst = 10

// sweepMix returns every combination of testkit.FilterSweep (the plan
// test sweeps the same) over the largest account.
func sweepMix() []query {
	var out []query
	for _, c := range testkit.FilterSweep(commonTag, secondTag, rareTag) {
		out = append(out, query{name: fmt.Sprintf("S%03d", len(out)+1), about: c.About, account: largestAcct,
			tags: c.Tags, prefix: c.Prefix, after: c.After, before: c.Before, ascending: c.Ascending})
	}
	return out
}

// sweepResult is the sweep of one setup: every combination briefly, then
// the slowest again for the full duration, with their plans.
type sweepResult struct {
	duration time.Duration
	all      queryResults
	worst    []queryResult
	load     [2]string // the one-minute load average before and after
}

// benchSweep runs every combination of sweepMix for o.sweepDuration each,
// then the slowest sweepWorst again as benchQuery measures a query (plans
// and pgbench on PostgreSQL).
func benchSweep(ctx context.Context, o options, srv *serverProc, side *sqlSide, rows int) (sweepResult, error) {
	res := sweepResult{duration: o.sweepDuration, load: [2]string{loadAverage(), ""}}
	logf("sweep: %d combinations, %v each", len(sweepMix()), o.sweepDuration)
	for _, q := range sweepMix() {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		tok, err := token(q.account)
		if err != nil {
			return res, err
		}
		t := []vegeta.Target{target(srv.url+q.path(), tok)}
		attack(t, o.concurrency, o.sweepDuration/10) // the plan cache and the totals cache
		res.all = append(res.all, queryResult{q: q, load: attack(t, o.concurrency, o.sweepDuration)})
	}
	worst := slices.Clone(res.all)
	slices.SortFunc(worst, func(a, b queryResult) int { return int(a.load.rps - b.load.rps) })
	for _, w := range worst[:min(sweepWorst, len(worst))] {
		r, err := benchQuery(ctx, o, srv, side, rows, w.q)
		if err != nil {
			return res, fmt.Errorf("%s: %w", w.q.name, err)
		}
		res.worst = append(res.worst, r)
	}
	res.load[1] = loadAverage()
	return res, nil
}

// write writes the sweep's section for setup s.
func (r sweepResult) write(b *strings.Builder, s setup, rows int) {
	if len(r.all) == 0 {
		return
	}
	g := sweepGoal(s)
	pass := 0
	for _, q := range r.all {
		if g.met(q) {
			pass++
		}
	}
	rates := make([]float64, len(r.all))
	for i, q := range r.all {
		rates[i] = q.load.rps
	}
	slices.Sort(rates)
	fmt.Fprintf(b, "\n### %s, %d rows\n\n", s.title, rows)
	fmt.Fprintf(b, "The %d combinations of tags (none, `%s`, `%s`, `%s,%s`, `%s,%s`), directory prefix (none, "+
		"`/d1`, `/d1/d2`, `/d1/d2/d3`), `created_at` window (none, a day, a month, a quarter, a year, open "+
		"after or before) and both orders, on the largest account, %v each after a tenth of that to warm "+
		"up; one-minute load average %s before, %s after (other work on the machine lowers these figures). "+
		"Target %s: **%d of %d met**; slowest %.0f req/s, median %.0f.\n\n",
		len(r.all), commonTag, rareTag, commonTag, secondTag, commonTag, rareTag, r.duration, r.load[0], r.load[1],
		g.describe(), pass, len(r.all), rates[0], rates[len(rates)/2])
	fmt.Fprintf(b, "The slowest %d, measured again for the full duration (plans below):\n\n", len(r.worst))
	b.WriteString("| query | filters | sweep req/s | req/s | p50 | p99 | verdict |\n|---|---|--:|--:|--:|--:|---|\n")
	for _, w := range r.worst {
		first := r.all.find(w.q.name)
		fmt.Fprintf(b, "| %s | `%s` | %.0f | %.0f | %s | %s | %s |\n", w.q.name, shortPath(w.q.path()),
			first.load.rps, w.load.rps, ms(w.load.p50), ms(w.load.p99), met(g.met(w)))
	}
	b.WriteString("\n<details><summary>All combinations</summary>\n\n| query | filters | req/s | p50 | p99 |\n|---|---|--:|--:|--:|\n")
	for _, q := range r.all {
		fmt.Fprintf(b, "| %s | %s | %.0f | %s | %s |\n", q.q.name, q.q.about, q.load.rps, ms(q.load.p50), ms(q.load.p99))
	}
	b.WriteString("\n</details>\n")
	if s.sqlite {
		return
	}
	for _, w := range r.worst {
		fmt.Fprintf(b, "\n<details><summary>%s: plan of <code>%s</code></summary>\n\n```\n%s```\n\n</details>\n",
			w.q.name, shortPath(w.q.path()), w.explain)
	}
}

// sweepGoal is issue 21's target for every combination: 600 req/s with a
// p99 within 100 ms on PostgreSQL, 300 req/s on SQLite.
func sweepGoal(s setup) goal {
	if s.sqlite {
		return goal{minRPS: 300}
	}
	return goal{minRPS: 600, maxP99: 100 * time.Millisecond}
}

// met reports whether q reached the goal's req/s and p99.
func (g goal) met(q queryResult) bool {
	return q.load.rps >= g.minRPS && (g.maxP99 == 0 || q.load.p99 <= g.maxP99) && q.load.errors == 0
}
