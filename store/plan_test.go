package store_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

// planSettings are the planner settings TestListPlans checks under: initdb's
// defaults (SET on the session, so that a tuned cluster cannot hide a plan
// that only tuning makes fast), then the usual tuning for SSDs.
var planSettings = []struct {
	name string
	sets []string
}{
	{"stock", []string{
		"random_page_cost = 4", "seq_page_cost = 1", "cpu_tuple_cost = 0.01",
		"cpu_index_tuple_cost = 0.005", "cpu_operator_cost = 0.0025", "effective_cache_size = '4GB'",
		"work_mem = '4MB'", "jit = on", "default_statistics_target = 100", "plan_cache_mode = auto",
		"enable_seqscan = on", "enable_indexscan = on", "enable_indexonlyscan = on",
		"enable_bitmapscan = on", "enable_sort = on", "enable_incremental_sort = on",
		"enable_hashjoin = on", "enable_mergejoin = on", "enable_nestloop = on", "enable_memoize = on",
		"enable_material = on", "enable_hashagg = on",
	}},
	{"tuned", []string{"random_page_cost = 1.1", "jit = off"}},
}

// TestListPlans loads a skewed dataset large enough for the planner to care
// (200,000 resources, one account of 40,000, tags from common to rare) and
// checks, with EXPLAIN ANALYZE of the very statements ListResources runs,
// that every shape of list reads its page through the intended index, in
// order: no sequential scan, no sort of more than the page (or of a
// prefix's matches, which no index holds in list order), and no probe per
// row of a common set. The exact total may read every match of a filter
// that no maintained count answers, but never sequentially.
func TestListPlans(t *testing.T) {
	ctx := context.Background()
	url := storetest.URL(t, store.Postgres)
	db := storetest.OpenURL(t, url)
	conn, err := storetest.SQL(t, url).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, s := range planSettings[0].sets {
		mustExec(t, conn, "SET "+s)
	}
	start := time.Now()
	loadPlanDataset(t, conn)
	t.Logf("loaded and analysed in %v", time.Since(start).Round(time.Millisecond))

	const big = "big"
	weekStart := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	weekEnd, monthEnd := weekStart.AddDate(0, 0, 7), weekStart.AddDate(0, 0, 60)
	deep := resources.Filter{AccountID: big, Page: 1000, PageSize: 20}
	cursor := mustList(t, db, deep).NextCursor
	if cursor == "" {
		t.Fatal("page 1000 of the large account has no next cursor")
	}
	const (
		order = "resources_created_idx"
		tags  = "resource_tags_tag_idx"
		path  = "resources_path_created_idx"
	)
	shapes := []struct {
		name    string
		f       resources.Filter
		index   string // the index that must give the page's keys
		maxSort int64  // most rows any Sort of the page may take
	}{
		{"no filter", resources.Filter{}, order, 100},
		{"common tag", resources.Filter{Tags: []string{"t000"}}, tags, 100},
		{"rare tag", resources.Filter{Tags: []string{"t199"}}, tags, 100},
		{"two common tags", resources.Filter{Tags: []string{"t000", "t001"}}, tags, 100},
		{"rare and common tag", resources.Filter{Tags: []string{"t000", "t199"}}, tags, 100},
		// The order index carries the path (migration 0008): a prefix
		// matching one in 8 walks it in order.
		{"prefix", resources.Filter{DirectoryPrefix: "/d1"}, order, 100},
		// A rare prefix reads its range of the path index and sorts it.
		{"rare prefix", resources.Filter{DirectoryPrefix: "/d1/d2/d3"}, path, 200},
		{"time window", resources.Filter{CreatedAfter: &weekStart, CreatedBefore: &weekEnd}, order, 100},
		{"all filters", resources.Filter{Tags: []string{"t000"}, DirectoryPrefix: "/d1",
			CreatedAfter: &weekStart, CreatedBefore: &monthEnd}, tags, 2000},
		{"deep page", resources.Filter{Page: 1000}, order, 100},
		{"page_size 100", resources.Filter{PageSize: 100}, order, 100},
		{"small account", resources.Filter{AccountID: "small"}, order, 100},
		{"cursor", resources.Filter{Cursor: cursor}, order, 100},
		{"ascending common tag", resources.Filter{Tags: []string{"t000"}, Ascending: true}, tags, 100},
	}
	sweep := planSweep()
	bounds := make([]sweepCost, len(sweep))
	for i, c := range sweep {
		bounds[i] = sweepBound(t, conn, db, c.f)
	}
	for _, s := range planSettings {
		for _, set := range s.sets {
			mustExec(t, conn, "SET "+set)
		}
		for _, sh := range shapes {
			t.Run(s.name+"/"+sh.name, func(t *testing.T) {
				f := sh.f
				f.AccountID = orDefault(f.AccountID, big)
				f.Page = max(f.Page, 1)
				f.PageSize = orDefault(f.PageSize, 20)
				if f.Cursor != "" {
					f.Page, f.PageSize = deep.Page, deep.PageSize
				}
				q, err := db.ListQuery(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				checkPlan(t, conn, "auto", q, sh.index, sh.maxSort)
				if q.Prepared {
					// Prepared, it may run on a plan made for any values.
					checkPlan(t, conn, "force_generic_plan", q, sh.index, sh.maxSort)
				}
			})
		}
		t.Run(s.name+"/total of a tag under a prefix", func(t *testing.T) {
			f := resources.Filter{AccountID: big, Page: 1, PageSize: 20, Tags: []string{"t000"}, DirectoryPrefix: "/d1/d2"}
			checkTotalIndex(t, conn, db, f, "resource_tags_path_idx")
		})
		for i, c := range sweep {
			t.Run(s.name+"/sweep/"+c.name, func(t *testing.T) {
				checkSweep(t, db, conn, c.f, bounds[i])
			})
		}
	}
}

// checkTotalIndex checks that f's exact total is counted in index alone:
// every scan of resources or resource_tags in the count reads it.
func checkTotalIndex(t *testing.T, conn *sql.Conn, db *store.DB, f resources.Filter, index string) {
	t.Helper()
	q, err := db.ListQuery(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	root := explainList(t, conn, "auto", q)
	counted := false
	root.walk(func(n *planNode, count bool) {
		if !count || n.Relation != "resources" && n.Relation != "resource_tags" {
			return
		}
		counted = true
		if n.Index != index {
			t.Errorf("the total reads %s through %q, want %s:\n%s", n.Relation, n.Index, index, root)
		}
	})
	if !counted {
		t.Errorf("no count of the total in\n%s", root)
	}
}

// A probe per row of a common set repeats a scan thousands of times; the
// intended plans repeat one at most a few hundred times (the page divided by
// the share of rows that pass a probe).
const maxLoops = 1000

// checkPlan runs EXPLAIN ANALYZE of q as a prepared statement under the
// plan_cache_mode mode and checks its plan.
func checkPlan(t *testing.T, conn *sql.Conn, mode string, q store.ListQuery, index string, maxSort int64) {
	t.Helper()
	root := explainList(t, conn, mode, q)
	page := root.pageKeys()
	if page == nil {
		t.Fatalf("%s: no Limit of the page's keys in\n%s", mode, root)
	}
	if !page.uses(index) {
		t.Errorf("%s: page keys not read through %s:\n%s", mode, index, root)
	}
	root.walk(func(n *planNode, count bool) {
		switch {
		case n.NodeType == "Seq Scan" && (n.Relation == "resources" || n.Relation == "resource_tags"):
			// The count tables have a row per account (and tag): the
			// planner scans them whole only while they span a few pages.
			t.Errorf("%s: sequential scan of %s:\n%s", mode, n.Relation, root)
		case count:
		case n.NodeType == "Sort" && n.input() > maxSort:
			t.Errorf("%s: sort of %d rows (at most %d):\n%s", mode, n.input(), maxSort, root)
		case n.ActualLoops > maxLoops:
			t.Errorf("%s: %s repeated %d times (at most %d):\n%s", mode, n.NodeType, n.ActualLoops, maxLoops, root)
		}
	})
}

// explainList runs EXPLAIN ANALYZE of q as a prepared statement under the
// plan_cache_mode mode and returns its plan.
func explainList(t *testing.T, conn *sql.Conn, mode string, q store.ListQuery) *planNode {
	t.Helper()
	mustExec(t, conn, "SET plan_cache_mode = "+mode)
	mustExec(t, conn, "PREPARE list_plan AS "+q.SQL)
	defer mustExec(t, conn, "DEALLOCATE list_plan")
	// EXPLAIN takes no parameters of its own: the values go as literals.
	params := make([]string, len(q.Args))
	for i, a := range q.Args {
		params[i] = literal(a)
	}
	var out []byte
	explain := "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE list_plan(" + strings.Join(params, ", ") + ")"
	if err := conn.QueryRowContext(context.Background(), explain).Scan(&out); err != nil {
		t.Fatal(err)
	}
	var plans []struct{ Plan planNode }
	if err := json.Unmarshal(out, &plans); err != nil {
		t.Fatal(err)
	}
	return &plans[0].Plan
}

// literal returns v as an SQL literal of unknown type, which takes the
// type of the parameter it is given for.
func literal(v any) string {
	if t, ok := v.(driver.Valuer); ok { // the dialect's timestamps
		v, _ = t.Value()
	}
	switch v := v.(type) {
	case nil: // no cached total's generation
		return "NULL"
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case time.Time:
		return "'" + v.Format(time.RFC3339Nano) + "'"
	}
	return fmt.Sprint(v)
}

// loadPlanDataset fills the database with 200,020 resources: "big" with
// 40,000, "small" with 20, and 400 accounts of 400, their times spread over
// two years in no physical order, their paths over 512 directories three deep.
func loadPlanDataset(t *testing.T, conn *sql.Conn) {
	t.Helper()
	mustExec(t, conn, `SELECT setseed(0.11)`)
	mustExec(t, conn, `INSERT INTO resources (account_id, id, name, directory_path, mime_type, sha256,
		storage_bucket, storage_key, size_bytes, created_at, updated_at)
		SELECT a, md5(n::text)::uuid, 'file-' || n, '/d' || floor(random() * 8) || '/d' || floor(random() * 8) || '/d' || floor(random() * 8),
			'text/plain', md5(n::text) || md5(n::text), 'plan', a || '/' || n, n,
			c, c
		FROM generate_series(1, 200020) n,
			LATERAL (SELECT CASE WHEN n <= 40000 THEN 'big' WHEN n <= 40020 THEN 'small'
				ELSE 'a' || ((n - 40021) / 400) END AS a,
				timestamptz '2024-01-01 00:00:00Z' + random() * interval '730 days' AS c) x`)
	// Three draws of 200 tags, tag i with probability ln((i+2)/(i+1)) /
	// ln 201 (Zipf-like, as in the benchmark): t000 is on about a third of
	// the resources, t001 on a fifth, t199 on one in 360; the rare tags fall
	// outside the statistics' list of most common values.
	mustExec(t, conn, `INSERT INTO resource_tags (account_id, resource_id, tag, created_at)
		SELECT DISTINCT r.account_id, r.id, 't' || lpad((floor(exp(random() * ln(201))) - 1)::int::text, 3, '0'), r.created_at
		FROM resources r, generate_series(1, 3)`)
	// As refactor import leaves its tables: analysed, and vacuumed so that
	// index-only scans need not visit the heap.
	mustExec(t, conn, `VACUUM (ANALYZE) resources, resource_tags, account_counts, account_tag_counts`)
}

func mustExec(t *testing.T, conn *sql.Conn, query string) {
	t.Helper()
	if _, err := conn.ExecContext(context.Background(), query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// orDefault returns v, or def when v is its zero value.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// planNode is a node of EXPLAIN (ANALYZE, FORMAT JSON).
type planNode struct {
	NodeType     string `json:"Node Type"`
	Relationship string `json:"Parent Relationship"`
	SubplanName  string `json:"Subplan Name"`
	Relation     string `json:"Relation Name"`
	Index        string `json:"Index Name"`
	ActualRows   int64  `json:"Actual Rows"`
	ActualLoops  int64  `json:"Actual Loops"`
	// Rows a filter removed, per loop (a scan's filter reads what it
	// removes as much as what it returns).
	RemovedByFilter  int64      `json:"Rows Removed by Filter"`
	RemovedByRecheck int64      `json:"Rows Removed by Index Recheck"`
	Plans            []planNode `json:"Plans"`
}

// pageKeys returns the Limit that picks the page's keys: the first one
// outside the subplans (the total and each row's tags).
func (n *planNode) pageKeys() *planNode {
	if n.NodeType == "Limit" {
		return n
	}
	for i := range n.Plans {
		if c := &n.Plans[i]; c.SubplanName == "" {
			if l := c.pageKeys(); l != nil {
				return l
			}
		}
	}
	return nil
}

// input returns how many rows n's first child gave in all: what a Sort
// took, whose own row count is what it gave (a top-N sort gives the page).
func (n *planNode) input() int64 {
	if len(n.Plans) == 0 {
		return 0
	}
	return n.Plans[0].ActualRows * n.Plans[0].ActualLoops
}

func (n *planNode) uses(index string) bool {
	if n.Index == index {
		return true
	}
	for i := range n.Plans {
		if n.Plans[i].uses(index) {
			return true
		}
	}
	return false
}

// walk calls fn on n and every node below it, telling whether the node
// computes the total.
func (n *planNode) walk(fn func(n *planNode, count bool)) {
	n.walkIn(false, fn)
}

func (n *planNode) walkIn(count bool, fn func(*planNode, bool)) {
	// The total is the statement's only uncorrelated subquery: an InitPlan.
	count = count || strings.HasPrefix(n.SubplanName, "InitPlan")
	fn(n, count)
	for i := range n.Plans {
		n.Plans[i].walkIn(count, fn)
	}
}

// String draws the plan as an indented tree for failure messages.
func (n *planNode) String() string {
	var b strings.Builder
	var draw func(n *planNode, depth int)
	draw = func(n *planNode, depth int) {
		fmt.Fprintf(&b, "%s%s", strings.Repeat("  ", depth), n.NodeType)
		if n.SubplanName != "" {
			fmt.Fprintf(&b, " [%s]", n.SubplanName)
		}
		if n.Index != "" {
			fmt.Fprintf(&b, " using %s", n.Index)
		} else if n.Relation != "" {
			fmt.Fprintf(&b, " on %s", n.Relation)
		}
		fmt.Fprintf(&b, " (rows=%d loops=%d)\n", n.ActualRows, n.ActualLoops)
		for i := range n.Plans {
			draw(&n.Plans[i], depth+1)
		}
	}
	draw(n, 0)
	return b.String()
}
