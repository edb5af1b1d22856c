package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

// TestConcurrentReads runs gets and lists of every shape (prepared where
// the store prepares them, and not) from many goroutines at once, and
// checks that each answers exactly what it answered alone. Through
// PgBouncer in transaction mode consecutive statements of one connection
// reach different server connections: a named prepared statement there
// fails ("already exists", "does not exist"), and lib/pq's two round trips
// for a query with arguments bind the statement another client parsed.
func TestConcurrentReads(t *testing.T) {
	const goroutines, rounds = 16, 40
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var rs []resources.Resource
		for n := range 60 {
			tags := []string{"a"}
			if n%3 == 0 {
				tags = append(tags, "b")
			}
			rs = append(rs, storetest.NewResource("acme", n, storetest.In(fmt.Sprintf("/d%d", n%2)), storetest.Tagged(tags...)))
		}
		storetest.MustImport(t, db, rs...)
		filters := []resources.Filter{
			{},
			{Tags: []string{"a"}},
			{Tags: []string{"a", "b"}},
			{DirectoryPrefix: "/d1"},
			{Tags: []string{"b"}, DirectoryPrefix: "/d0", CreatedAfter: &storetest.BaseTime},
			{Ascending: true, Page: 3},
		}
		want := make([][]string, len(filters))
		for i := range filters {
			filters[i].AccountID, filters[i].PageSize = "acme", 7
			filters[i].Page = max(filters[i].Page, 1)
			want[i] = listIDs(t, db, filters[i])
		}

		var wg sync.WaitGroup
		errs := make(chan error, goroutines)
		for g := range goroutines {
			wg.Go(func() {
				for i := range rounds {
					if err := readOnce(ctx, db, rs[(g*rounds+i)%len(rs)], filters, want, g+i); err != nil {
						errs <- fmt.Errorf("goroutine %d, round %d: %w", g, i, err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}, store.WithPoolSize(goroutines), store.WithStatementTimeout(time.Minute))
}

// readOnce gets r and lists filter n (modulo their number), and compares
// the answers with r and want.
func readOnce(ctx context.Context, db *store.DB, r resources.Resource, filters []resources.Filter, want [][]string, n int) error {
	got, err := db.GetResource(ctx, r.AccountID, r.ID)
	if err != nil {
		return fmt.Errorf("get %s: %w", r.ID, err)
	}
	if got.ID != r.ID || got.Name != r.Name {
		return fmt.Errorf("get %s answered %s (%s)", r.ID, got.ID, got.Name)
	}
	i := n % len(filters)
	page, err := db.ListResources(ctx, filters[i])
	if err != nil {
		return fmt.Errorf("list %+v: %w", filters[i], err)
	}
	if ids := pageIDs(page); !slices.Equal(ids, want[i]) {
		return fmt.Errorf("list %+v: %v, want %v", filters[i], ids, want[i])
	}
	return nil
}

func listIDs(t *testing.T, db *store.DB, f resources.Filter) []string {
	t.Helper()
	return pageIDs(mustList(t, db, f))
}

func pageIDs(p resources.Page) []string {
	ids := make([]string, len(p.Items))
	for i, r := range p.Items {
		ids[i] = r.ID
	}
	return ids
}

// TestListAwkwardTags lists by tags that SQL would read as syntax, each of
// them alone (a statement the store prepares; behind PgBouncer the tag is
// written into EXECUTE as a literal) and with a prefix (bound).
func TestListAwkwardTags(t *testing.T) {
	tags := []string{`o'neil`, `back\slash`, `\'`, `$1`, `'); DROP TABLE resources; --`, `日本`}
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		var rs []resources.Resource
		for n, tag := range tags {
			rs = append(rs, storetest.NewResource("acme", n, storetest.In("/d"), storetest.Tagged(tag)))
		}
		storetest.MustImport(t, db, rs...)
		for n, tag := range tags {
			for _, prefix := range []string{"", "/d"} {
				f := resources.Filter{AccountID: "acme", Tags: []string{tag}, DirectoryPrefix: prefix, Page: 1, PageSize: 10}
				if got := listIDs(t, db, f); !slices.Equal(got, []string{rs[n].ID}) {
					t.Errorf("tag %q, prefix %q: %v, want [%s]", tag, prefix, got, rs[n].ID)
				}
			}
		}
	})
}

// TestPooledStatementsKeepPlans checks that behind PgBouncer a get is
// prepared once on the server connection and run again from there, not
// planned on every run. Run one after another, the gets reach one server
// connection: PgBouncer lends the one it took back last.
func TestPooledStatementsKeepPlans(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, storetest.ViaPgBouncer)
	r := storetest.NewResource("acme", 1)
	storetest.MustImport(t, db, r)
	const gets = 12
	for range gets {
		if _, err := db.GetResource(ctx, "acme", r.ID); err != nil {
			t.Fatal(err)
		}
	}
	var statements, runs int
	err := db.QueryRowSQL(ctx, `SELECT count(*), coalesce(sum(generic_plans + custom_plans), 0)
		FROM pg_prepared_statements WHERE name LIKE 'refactor\_%'`).Scan(&statements, &runs)
	if err != nil {
		t.Fatal(err)
	}
	if statements != 1 || runs < gets {
		t.Errorf("the server connection holds %d statements run %d times, want 1 run at least %d times", statements, runs, gets)
	}
}

// TestConcurrentFirstWrites creates resources of an account with a webhook
// endpoint, and reads deliveries, from more goroutines than the pool has
// connections, on a fresh store: the write statements are prepared on the
// pool and used inside transactions (stmtCache.inTx) while transactions
// hold the connections, and every create and read must succeed within the
// statement timeout. (The stall this guards against, a cache that prepared
// under its lock while transactions waited on that lock, showed under a
// server's load, 80 creates a second; this test did not catch it on the old
// code, so it checks the path, not the timing.)
func TestConcurrentFirstWrites(t *testing.T) {
	const goroutines, each = 16, 5
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().UTC()
		ep := resources.WebhookEndpoint{ID: "5f5af0e8-dd3b-4d86-a451-05d0b1ce99e9", AccountID: "acme", URL: "https://example.com/hook",
			Types: []string{}, Tags: []string{}, Secret: "whsec_x", Enabled: true, CreatedAt: now, UpdatedAt: now}
		if err := db.CreateWebhook(ctx, ep); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, goroutines*each*2)
		for g := range goroutines {
			wg.Go(func() {
				for i := range each {
					// What a delivery's job reads, prepared on the pool
					// outside any transaction, between the creates.
					if ds, err := db.DeliveriesToSend(ctx, "acme", []string{uuid.NewString()}); err != nil || len(ds) != 0 {
						errs <- fmt.Errorf("goroutine %d, delivery %d: %v, %v, want none", g, i, ds, err)
					}
					r := storetest.NewResource("acme", g*each+i, storetest.Tagged("a", "b"))
					if err := db.CreateResource(ctx, r); err != nil {
						errs <- fmt.Errorf("goroutine %d, create %d: %w", g, i, err)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}, store.WithPoolSize(2), store.WithStatementTimeout(3*time.Second))
}
