package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/internal/testkit"
	"github.com/re-factor/resources/store"
)

// sweepFilter is one combination of the list's filters over the plan
// dataset's "big" account.
type sweepFilter struct {
	name string
	f    resources.Filter
}

// planSweep returns every combination of testkit.FilterSweep (the bench
// sweeps the same) over the plan dataset's "big" account.
func planSweep() []sweepFilter {
	var out []sweepFilter
	for _, c := range testkit.FilterSweep("t000", "t001", "t199") {
		out = append(out, sweepFilter{c.About, resources.Filter{AccountID: "big", Page: 1, PageSize: 20, Tags: c.Tags,
			DirectoryPrefix: c.Prefix, CreatedAfter: c.After, CreatedBefore: c.Before, Ascending: c.Ascending}})
	}
	return out
}

// sweepBound returns how many index entries the best plan the indexes allow
// must read for f's first page: walking an ordered range (the account's
// window of the order index, or one tag's window of the tag index) until the
// page is full, which takes the range times the page over the matches when
// matches are spread evenly, and all of it when fewer than a page match; or
// reading the prefix's whole range of the path index, or a tag's whole
// range under the prefix.
//
// It also checks that ListResources gives f's first page and total as a
// plain query of the matches does (checkSweepPage).
func sweepBound(t *testing.T, conn *sql.Conn, db *store.DB, f resources.Filter) sweepCost {
	t.Helper()
	count := func(query string, args ...any) int64 {
		var n int64
		if err := conn.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	// window adds f's window on col to a query of args.
	window := func(col string, args []any) (string, []any) {
		var cond string
		if f.CreatedAfter != nil {
			args = append(args, *f.CreatedAfter)
			cond += fmt.Sprintf(" AND %s > $%d", col, len(args))
		}
		if f.CreatedBefore != nil {
			args = append(args, *f.CreatedBefore)
			cond += fmt.Sprintf(" AND %s < $%d", col, len(args))
		}
		return cond, args
	}
	inWindow, args := window("r.created_at", []any{f.AccountID})
	ordered := `SELECT count(*) FROM resources r WHERE r.account_id = $1` + inWindow
	matching, margs := ordered, args
	if f.DirectoryPrefix != "" {
		margs = append(margs, f.DirectoryPrefix)
		matching += fmt.Sprintf(" AND starts_with(r.directory_path, $%d)", len(margs))
	}
	for _, tag := range f.Tags {
		margs = append(margs, tag)
		matching += fmt.Sprintf(` AND EXISTS (SELECT 1 FROM resource_tags g WHERE g.account_id = r.account_id
			AND g.resource_id = r.id AND g.tag = $%d)`, len(margs))
	}
	matches := count(matching, margs...)
	checkSweepPage(t, conn, db, f, matching, margs, matches)
	walk := func(entries int64) int64 {
		if matches < f.PageSize {
			return entries
		}
		return (entries*f.PageSize + matches - 1) / matches
	}
	c := sweepCost{matches: matches, best: walk(count(ordered, args...))}
	for _, tag := range f.Tags {
		cond, args := window("g.created_at", []any{f.AccountID, tag})
		n := count(`SELECT count(*) FROM resource_tags g WHERE g.account_id = $1 AND g.tag = $2`+cond, args...)
		c.best = min(c.best, walk(n))
	}
	if f.DirectoryPrefix != "" {
		n := count(`SELECT count(*) FROM resources r WHERE r.account_id = $1 AND starts_with(r.directory_path, $2)`,
			f.AccountID, f.DirectoryPrefix)
		c.best = min(c.best, n)
		// A tag's range under the prefix (resource_tags_path_idx), whole.
		for _, tag := range f.Tags {
			n := count(`SELECT count(*) FROM resource_tags g WHERE g.account_id = $1 AND g.tag = $2 AND starts_with(g.path_key, $3)`,
				f.AccountID, tag, f.DirectoryPrefix)
			c.best = min(c.best, n)
		}
	}
	return c
}

// checkSweepPage checks f's first page and total from ListResources, which
// may walk (ListQuery.Walk) and fall back, against the first ids of counted,
// a count(*) of the matches over r, in list order.
func checkSweepPage(t *testing.T, conn *sql.Conn, db *store.DB, f resources.Filter, counted string, args []any, total int64) {
	t.Helper()
	dir := " DESC"
	if f.Ascending {
		dir = " ASC"
	}
	query := strings.Replace(counted, "count(*)", "r.id::text", 1) + " ORDER BY r.created_at" + dir + ", r.id" + dir +
		fmt.Sprintf(" LIMIT %d", f.PageSize)
	rows, err := conn.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var want []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	page := mustList(t, db, f)
	var got []string
	for _, r := range page.Items {
		got = append(got, r.ID)
	}
	if !slices.Equal(got, want) || page.Total != total {
		t.Errorf("%+v: page %v total %d, want %v total %d", f, got, page.Total, want, total)
	}
}

// sweepCost is what the sweep knows of a filter's data: its matches and the
// entries the best plan reads (sweepBound).
type sweepCost struct{ matches, best int64 }

// pageReads returns how many index entries and rows the plan's nodes outside
// the total read: what each scan returned and what its filters removed, in
// all its loops, and at least one entry a loop: a probe that finds nothing
// still descends its index (and EXPLAIN rounds a probe's rows per loop, so
// that probes which find a row one time in three would count as none).
func (n *planNode) pageReads() int64 {
	var reads int64
	n.walk(func(n *planNode, count bool) {
		if !count && strings.Contains(n.NodeType, "Scan") && n.NodeType != "Subquery Scan" {
			reads += max(n.ActualRows+n.RemovedByFilter+n.RemovedByRecheck, 1) * n.ActualLoops
		}
	})
	return reads
}

// checkSweep checks that f's first page reads at most a few times what the
// best plan the indexes allow must read, plus what fetching the page's own
// rows and tags takes, whatever plan PostgreSQL may run it on. A page of
// tags and a prefix reads first (ListQuery.Walk) either the prefix's short
// range whole, which stands alone and is held to that bound, or the rarest
// tag's range in list order, up to its cap of entries when the best plan
// would have read the prefix's range (a bounded price for not knowing how
// rare the prefix is). When that walk gives up, the planner's statement is
// held to the bound too: reading each of the filter's ranges once, as the
// planner prefers to a probe per entry (which it costs as a read from
// disk), read 70,000 entries for two common tags under /d1/d2 at 1M rows
// (21 req/s, issue 21).
func checkSweep(t *testing.T, db *store.DB, conn *sql.Conn, f resources.Filter, c sweepCost) {
	t.Helper()
	q, err := db.ListQuery(t.Context(), f)
	if err != nil {
		t.Fatal(err)
	}
	limit := sweepSlack*c.best + sweepPerRow*f.PageSize
	if q.Walk != "" {
		walk := q
		walk.SQL, walk.Args = q.Walk, q.WalkArgs
		root := explainList(t, conn, "auto", walk)
		checkNoSeqScan(t, "walk", root)
		// The walk reads no more than the best plan would, or than its
		// cap; a prefix's range no more than the best plan.
		walked, most := root.pageReads(), max(limit, 2*store.WalkCap+sweepPerRow*f.PageSize)
		if q.WalkStands {
			most = limit
		}
		if walked > most {
			t.Errorf("the walk read %d entries; the best plan reads %d (at most %d):\n%s", walked, c.best, most, root)
		}
		got := root.pageKeys().ActualRows
		if q.WalkStands || got == f.PageSize || got > 0 && got == c.matches || rarestTagCount(t, conn, f) <= store.WalkCap {
			return // the walk's page stands
		}
	}
	modes := []string{"auto"}
	if q.Prepared {
		// Prepared, it may run on a plan made for any values.
		modes = append(modes, "force_generic_plan")
	}
	for _, mode := range modes {
		root := explainList(t, conn, mode, q)
		if reads := root.pageReads(); reads > limit {
			t.Errorf("%s: the page read %d entries; the best plan reads %d (at most %d):\n%s",
				mode, reads, c.best, limit, root)
		}
		checkNoSeqScan(t, mode, root)
	}
}

func checkNoSeqScan(t *testing.T, mode string, root *planNode) {
	t.Helper()
	root.walk(func(n *planNode, _ bool) {
		if n.NodeType == "Seq Scan" && (n.Relation == "resources" || n.Relation == "resource_tags") {
			t.Errorf("%s: sequential scan of %s:\n%s", mode, n.Relation, root)
		}
	})
}

// rarestTagCount returns how many resources of f's account carry the
// rarest of f's tags, the one a walk reads.
func rarestTagCount(t *testing.T, conn *sql.Conn, f resources.Filter) int64 {
	t.Helper()
	var n int64
	for i, tag := range f.Tags {
		var c int64
		if err := conn.QueryRowContext(context.Background(), `SELECT coalesce((SELECT resources FROM account_tag_counts
			WHERE account_id = $1 AND tag = $2), 0)`, f.AccountID, tag).Scan(&c); err != nil {
			t.Fatal(err)
		}
		if i == 0 || c < n {
			n = c
		}
	}
	return n
}

// The sweep's allowance: a plan may read sweepSlack times the entries of
// the best one (a probe per entry walked doubles them, and matches are not
// spread perfectly evenly), and sweepPerRow entries for each row of the page
// (its key, its row, its tags).
const (
	sweepSlack  = 4
	sweepPerRow = 8
)
