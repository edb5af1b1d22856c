package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/internal/testkit"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

// totalsModel is what an account holds, by id, to count the totals that
// ListResources must give.
type totalsModel map[string]resources.Resource

func (m totalsModel) count(f resources.Filter) int64 {
	var n int64
	for _, r := range m {
		if r.AccountID == f.AccountID && testkit.Matches(r, f) {
			n++
		}
	}
	return n
}

// totalsFilters are filters whose totals no trigger maintains, and two
// whose totals are maintained, for contrast: all of the account's resources
// (account_counts) and one tag's (account_tag_counts).
var totalsFilters = []resources.Filter{
	{},
	{Tags: []string{"a", "b"}},
	{DirectoryPrefix: "/in"},
	{CreatedAfter: at(10), CreatedBefore: at(40)},
	{Tags: []string{"a"}, CreatedAfter: at(10)},
	{Tags: []string{"b", "a"}, DirectoryPrefix: "/in", CreatedBefore: at(40)},
	{Tags: []string{"b"}, DirectoryPrefix: "/in"},
	{Tags: []string{"a"}},
}

// checkTotals lists each filter's first page and a page past its end, twice
// each (the second time from the cache when nothing changed), and compares
// the totals with the model's.
func checkTotals(t *testing.T, db *store.DB, m totalsModel, step string) {
	t.Helper()
	for _, f := range totalsFilters {
		f.AccountID, f.PageSize = "acme", 5
		want := m.count(f)
		for _, page := range []int64{1, 1, 100, 100} {
			f.Page = page
			if got := mustList(t, db, f).Total; got != want {
				t.Errorf("after %s: page %d of %+v: total %d, want %d", step, page, f, got, want)
			}
		}
	}
}

func totalsResource(n int) resources.Resource {
	dir, tags := "/out", []string{}
	if n%2 == 0 {
		dir, tags = "/in", append(tags, "a")
	}
	if n%3 == 0 {
		tags = append(tags, "b")
	}
	return storetest.NewResource("acme", n, storetest.In(dir), storetest.Tagged(tags...))
}

// rawDB opens the database at url without the store, for SQL run by hand.
func rawDB(t *testing.T, engine, url string) *sql.DB {
	t.Helper()
	driver, dsn := "postgres", url
	if engine == store.SQLite {
		driver, dsn = "sqlite", strings.TrimPrefix(url, "sqlite:")
	}
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

func TestListTotalsFollowWrites(t *testing.T) {
	ctx := context.Background()
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		m := totalsModel{}
		var rs []resources.Resource
		for n := 1; n <= 30; n++ {
			r := totalsResource(n)
			rs, m[r.ID] = append(rs, r), r
		}
		storetest.MustImport(t, db, rs...) // the bulk path on PostgreSQL: the tables are empty
		checkTotals(t, db, m, "import into empty tables")

		r := totalsResource(36)
		storetest.MustCreate(t, db, r)
		m[r.ID] = r
		checkTotals(t, db, m, "create")

		r = totalsResource(35) // no tags: counted by its event's statement on PostgreSQL
		storetest.MustCreate(t, db, r)
		m[r.ID] = r
		checkTotals(t, db, m, "create without tags")

		if _, err := db.DeleteResource(ctx, "acme", rs[11].ID, time.Now()); err != nil { // n = 12: /in, a and b
			t.Fatal(err)
		}
		delete(m, rs[11].ID)
		checkTotals(t, db, m, "delete")

		out := "/out"
		moved, err := db.UpdateResource(ctx, "acme", rs[5].ID, resources.Update{DirectoryPath: &out}, rs[5].UpdatedAt)
		if err != nil {
			t.Fatal(err)
		}
		m[moved.ID] = moved
		checkTotals(t, db, m, "update moving out of a prefix")
		in := "/in/deeper"
		if moved, err = db.UpdateResource(ctx, "acme", rs[8].ID, resources.Update{DirectoryPath: &in}, rs[8].UpdatedAt); err != nil {
			t.Fatal(err) // n = 9: /out, b
		}
		m[moved.ID] = moved
		checkTotals(t, db, m, "update moving into a prefix")

		more := []resources.Resource{totalsResource(42), totalsResource(48), totalsResource(50)}
		storetest.MustImport(t, db, more...)
		for _, r := range more {
			m[r.ID] = r
		}
		checkTotals(t, db, m, "import into a serving database")

		// n = 4 has "a" only; a tag written by hand counts as well.
		tag := `INSERT INTO resource_tags (account_id, resource_id, tag, created_at) SELECT account_id, id, 'b', created_at FROM resources WHERE account_id = 'acme' AND id = '` + rs[3].ID + `'`
		if err := db.ExecSQL(ctx, tag); err != nil {
			t.Fatal(err)
		}
		r = m[rs[3].ID]
		r.Tags = []string{"a", "b"}
		m[r.ID] = r
		checkTotals(t, db, m, "a tag inserted by hand")
	})
}

func TestListTotalsConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		const writers, each = 4, 15
		f := resources.Filter{AccountID: "acme", Tags: []string{"a", "b"}, DirectoryPrefix: "/in", Page: 1, PageSize: 5}
		ids := make([][]string, writers)
		// Creates only: each later statement sees no fewer.
		raceWriters(t, db, f, writers, func(w int) error {
			for i := range each {
				r := storetest.NewResource("acme", w*each+i, storetest.In("/in"), storetest.Tagged("a", "b"))
				if err := db.CreateResource(ctx, r); err != nil {
					return err
				}
				ids[w] = append(ids[w], r.ID)
			}
			return nil
		}, func(prev, cur int64) bool { return cur >= prev && cur <= writers*each })
		checkTotal(t, db, f, writers*each)

		// Moves out of the prefix and deletes: no more.
		out := "/out"
		raceWriters(t, db, f, writers, func(w int) error {
			for i, id := range ids[w] {
				var err error
				switch i % 3 {
				case 0:
					_, err = db.UpdateResource(ctx, "acme", id, resources.Update{DirectoryPath: &out}, storetest.BaseTime)
				case 1:
					_, err = db.DeleteResource(ctx, "acme", id, time.Now())
				}
				if err != nil {
					return err
				}
			}
			return nil
		}, func(prev, cur int64) bool { return cur <= prev })
		checkTotal(t, db, f, writers*each/3)
	})
}

// TestCountsOfConcurrentWriters runs creates with and without tags,
// moves and deletes of one account at once: every writer takes the
// account's locks in one order, whether its count is kept by a trigger or
// by its event's statement (migration 0014), so none deadlocks, and the
// totals end right.
func TestCountsOfConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		const writers, each = 4, 12
		var mu sync.Mutex
		m := totalsModel{}
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					r := totalsResource(w*each + i)
					if err := db.CreateResource(ctx, r); err != nil {
						errs <- err
						return
					}
					var err error
					switch i % 4 {
					case 1:
						_, err = db.DeleteResource(ctx, "acme", r.ID, time.Now())
						r = resources.Resource{}
					case 2:
						in := "/in"
						r, err = db.UpdateResource(ctx, "acme", r.ID, resources.Update{DirectoryPath: &in}, r.UpdatedAt)
					}
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					if r.ID != "" {
						m[r.ID] = r
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		checkTotals(t, db, m, "concurrent writers")
	})
}

// raceWriters runs work for each of n writers while a reader lists f, and
// checks each total the reader sees against the one before with ok.
func raceWriters(t *testing.T, db *store.DB, f resources.Filter, n int, work func(w int) error, ok func(prev, cur int64) bool) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, n+1)
	for w := range n {
		wg.Go(func() {
			if err := work(w); err != nil {
				errs <- err
			}
		})
	}
	done := make(chan struct{})
	var reader sync.WaitGroup
	prev := mustList(t, db, f).Total
	reader.Go(func() {
		for {
			p, err := db.ListResources(ctx, f)
			if err != nil {
				errs <- err
				return
			}
			if !ok(prev, p.Total) {
				errs <- fmt.Errorf("total %d after %d", p.Total, prev)
				return
			}
			prev = p.Total
			select {
			case <-done:
				return
			default:
			}
		}
	})
	wg.Wait()
	close(done)
	reader.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// checkTotal lists f twice, the second time from the cache.
func checkTotal(t *testing.T, db *store.DB, f resources.Filter, want int64) {
	t.Helper()
	for range 2 {
		if got := mustList(t, db, f).Total; got != want {
			t.Errorf("total %d, want %d", got, want)
		}
	}
}

// TestListTotalsHitRunsNoCount runs the very statement of a list whose
// total is cached, with the generation it was cached at, and checks that the
// count in it never runs; given no generation (or a stale one) it does.
func TestListTotalsHitRunsNoCount(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storetest.Engines {
		t.Run(engine, func(t *testing.T) {
			url := storetest.URL(t, engine)
			db := storetest.OpenURL(t, url)
			var rs []resources.Resource
			for n := 1; n <= 30; n++ {
				rs = append(rs, totalsResource(n))
			}
			storetest.MustImport(t, db, rs...)
			raw := rawDB(t, engine, url)
			var generation int64
			if err := raw.QueryRowContext(ctx, `SELECT generation FROM account_counts WHERE account_id = 'acme'`).Scan(&generation); err != nil {
				t.Fatal(err)
			}
			f := resources.Filter{AccountID: "acme", Tags: []string{"a", "b"}, Page: 1, PageSize: 5}
			q, err := db.ListQuery(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name   string
				q      store.ListQuery
				counts bool
			}{
				{"nothing cached", q, true},
				{"cached at an older generation", q.CachedAt(generation - 1), true},
				{"cached at the account's generation", q.CachedAt(generation), false},
			} {
				if got := countRuns(t, engine, raw, c.q); got != c.counts {
					t.Errorf("%s: count runs = %v, want %v", c.name, got, c.counts)
				}
			}
		})
	}
}

// countRuns reports whether running q evaluates its count. On PostgreSQL,
// EXPLAIN ANALYZE tells how often the count's InitPlan ran. SQLite has no
// such statistics, so the count is made to fail when it runs.
func countRuns(t *testing.T, engine string, raw *sql.DB, q store.ListQuery) bool {
	t.Helper()
	ctx := context.Background()
	if engine == store.SQLite {
		failing := strings.Replace(q.SQL, "SELECT count(*)", "SELECT abs(-9223372036854775808) + count(*)", 1)
		if failing == q.SQL {
			t.Fatalf("no count in %s", q.SQL)
		}
		rows, err := raw.QueryContext(ctx, failing, q.Args...)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		if err != nil && !strings.Contains(err.Error(), "integer overflow") {
			t.Fatal(err)
		}
		return err != nil
	}
	params := make([]string, len(q.Args))
	for i, a := range q.Args {
		params[i] = literal(a)
	}
	conn, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	mustExec(t, conn, "PREPARE list_plan AS "+q.SQL)
	defer mustExec(t, conn, "DEALLOCATE list_plan")
	var out []byte
	if err := conn.QueryRowContext(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE list_plan("+strings.Join(params, ", ")+")").Scan(&out); err != nil {
		t.Fatal(err)
	}
	var plans []struct{ Plan planNode }
	if err := json.Unmarshal(out, &plans); err != nil {
		t.Fatal(err)
	}
	var count *planNode
	plans[0].Plan.walk(func(n *planNode, _ bool) {
		if count == nil && strings.HasPrefix(n.SubplanName, "InitPlan") && n.reads("resource_tags") {
			count = n
		}
	})
	if count == nil {
		t.Fatalf("no InitPlan counting resource_tags in\n%s", &plans[0].Plan)
	}
	return count.ActualLoops > 0
}

// reads reports whether n or a node below it reads the table.
func (n *planNode) reads(table string) bool {
	if n.Relation == table {
		return true
	}
	return slices.ContainsFunc(n.Plans, func(c planNode) bool { return c.reads(table) })
}
