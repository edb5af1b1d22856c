package store_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

// tagged returns n resources of account, numbered from first, each tagged
// "a" and "b".
func tagged(account string, first, n int) []resources.Resource {
	rs := make([]resources.Resource, n)
	for i := range rs {
		rs[i] = storetest.NewResource(account, first+i, storetest.Tagged("a", "b"))
	}
	return rs
}

// TestImportAnalyses checks that an import leaves statistics on the tables
// it loaded, and on PostgreSQL a visibility map that covers them, both into
// an empty database (the bulk path) and into one that holds resources.
func TestImportAnalyses(t *testing.T) {
	for _, engine := range storetest.Setups {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.Open(t, engine)
			for i, want := range []int{300, 500} {
				var steps []string
				_, err := db.ImportResources(ctx, storetest.Seq(tagged("acme", i*300, want-i*300)...),
					store.WithImportSteps(func(name string) { steps = append(steps, name) }))
				if err != nil {
					t.Fatal(err)
				}
				if wantSteps := []string{store.StepCheckKeys, store.StepAnalyse}; engine == store.SQLite || i > 0 {
					// Only a bulk load (PostgreSQL, empty tables) defers the keys.
					if wantSteps = wantSteps[1:]; !slices.Equal(steps, wantSteps) {
						t.Errorf("import %d: steps %q, want %q", i+1, steps, wantSteps)
					}
				} else if !slices.Equal(steps, wantSteps) {
					t.Errorf("import %d: steps %q, want %q", i+1, steps, wantSteps)
				}
				checkAnalysed(t, db, want)
			}
		})
	}
}

// checkAnalysed checks that resources and resource_tags have statistics
// saying they hold resources rows and twice as many tags.
func checkAnalysed(t *testing.T, db *store.DB, resources int) {
	t.Helper()
	ctx := context.Background()
	for table, rows := range map[string]int{"resources": resources, "resource_tags": 2 * resources} {
		if db.Engine() == store.SQLite {
			// The first number of an index's stat is the rows it covers.
			var stat string
			err := db.QueryRowSQL(ctx, `SELECT stat FROM sqlite_stat1 WHERE tbl = $1 AND idx IS NOT NULL
				ORDER BY idx LIMIT 1`, table).Scan(&stat)
			if n, _, _ := strings.Cut(stat, " "); err != nil || n != strconv.Itoa(rows) {
				t.Errorf("%s: sqlite_stat1 says %q (%v), want %d rows", table, stat, err, rows)
			}
			continue
		}
		var tuples float64
		var pages, visible int
		var vacuumed, analysed bool
		err := db.QueryRowSQL(ctx, `SELECT c.reltuples, c.relpages, c.relallvisible,
				s.last_vacuum IS NOT NULL, s.last_analyze IS NOT NULL
			FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid
			WHERE c.oid = $1::regclass`, table).Scan(&tuples, &pages, &visible, &vacuumed, &analysed)
		switch {
		case err != nil:
			t.Fatalf("%s: %v", table, err)
		case int(tuples) != rows || !vacuumed || !analysed:
			t.Errorf("%s: reltuples %v, vacuumed %v, analysed %v; want %d, true, true", table, tuples, vacuumed, analysed, rows)
		case pages == 0 || visible != pages:
			t.Errorf("%s: %d of %d pages all-visible, want all", table, visible, pages)
		}
	}
}

// TestMigrateAnalyses checks that a migration's tables are analysed, and
// only those: the ones its SQL names.
func TestMigrateAnalyses(t *testing.T) {
	for _, engine := range storetest.Setups {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.Open(t, engine)
			storetest.MustImport(t, db, tagged("acme", 0, 50)...)
			forget := `DELETE FROM sqlite_stat1`
			if storetest.Engine(engine) == store.Postgres {
				forget = `SELECT pg_stat_reset()`
			}
			if err := db.ExecSQL(ctx, forget); err != nil {
				t.Fatal(err)
			}
			if err := db.AnalyseMigrated(ctx, `CREATE INDEX tag_only ON resource_tags (tag)`); err != nil {
				t.Fatal(err)
			}
			for table, want := range map[string]bool{"resource_tags": true, "resources": false} {
				query := `SELECT EXISTS (SELECT 1 FROM sqlite_stat1 WHERE tbl = $1)`
				if storetest.Engine(engine) == store.Postgres {
					query = `SELECT last_analyze IS NOT NULL AND last_vacuum IS NOT NULL
						FROM pg_stat_user_tables WHERE relname = $1`
				}
				var analysed bool
				if err := db.QueryRowSQL(ctx, query, table).Scan(&analysed); err != nil {
					t.Fatal(err)
				}
				if analysed != want {
					t.Errorf("%s analysed: %v, want %v", table, analysed, want)
				}
			}
		})
	}
}

// TestImportBulkKeepsSchema checks that an import into empty PostgreSQL
// tables, which drops their foreign keys and secondary indexes while it
// loads, leaves them as the migrations made them whether it succeeds or
// fails.
func TestImportBulkKeepsSchema(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, store.Postgres)
	before := schema(t, db)
	bad := tagged("acme", 0, 10)
	bad[9].ID = bad[3].ID
	if _, err := db.ImportResources(ctx, storetest.Seq(bad...)); !errors.Is(err, resources.ErrConflict) {
		t.Fatalf("import with a repeated id: %v, want a conflict", err)
	}
	if got := schema(t, db); got != before {
		t.Errorf("after a failed import the schema is\n%s\nwant\n%s", got, before)
	}
	storetest.MustImport(t, db, tagged("acme", 0, 10)...)
	if got := schema(t, db); got != before {
		t.Errorf("after an import the schema is\n%s\nwant\n%s", got, before)
	}
}

// schema describes the indexes and constraints of the tables import loads.
func schema(t *testing.T, db *store.DB) string {
	t.Helper()
	var s string
	err := db.QueryRowSQL(context.Background(), `SELECT string_agg(def, E'\n' ORDER BY def) FROM (
		SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index
		WHERE indrelid IN ('resources'::regclass, 'resource_tags'::regclass)
		UNION ALL
		SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
		WHERE conrelid IN ('resources'::regclass, 'resource_tags'::regclass)) d`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestImportKeyViolation checks that a tag row whose resource is missing
// fails the import, whether the keys are checked row by row or, in a bulk
// load into empty tables, once at the end. Only a trigger can make such a
// row: import stores each resource before its tags.
func TestImportKeyViolation(t *testing.T) {
	ctx := context.Background()
	const orphan = "00000000-0000-4000-8000-000000000000"
	for _, existing := range []int{0, 5} {
		t.Run(strconv.Itoa(existing)+" existing", func(t *testing.T) {
			db := storetest.Open(t, store.Postgres)
			storetest.MustImport(t, db, tagged("acme", 100, existing)...)
			if err := db.ExecSQL(ctx, `CREATE FUNCTION orphan_tag() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN NEW.resource_id := '`+orphan+`'; RETURN NEW; END $$;
				CREATE TRIGGER orphan_tag BEFORE INSERT ON resource_tags
					FOR EACH ROW WHEN (NEW.tag = 'orphan') EXECUTE FUNCTION orphan_tag()`); err != nil {
				t.Fatal(err)
			}
			rs := tagged("acme", 0, 20)
			rs[7].Tags = []string{"orphan"}
			n, err := db.ImportResources(ctx, storetest.Seq(rs...))
			if n != 0 || err == nil || !strings.Contains(err.Error(), orphan) {
				t.Errorf("import: %d, %v; want 0 and an error naming %s", n, err, orphan)
			}
			if got := mustCount(t, db, "acme"); got != int64(existing) {
				t.Errorf("after the failed import acme holds %d resources, want %d", got, existing)
			}
		})
	}
}

// TestImportConcurrentBulk checks that imports started together into an
// empty database, each of which may choose the bulk path, all succeed.
func TestImportConcurrentBulk(t *testing.T) {
	ctx := context.Background()
	for round := range 3 {
		db := storetest.Open(t, store.Postgres)
		errs := make(chan error, 3)
		for i := range cap(errs) {
			go func() {
				_, err := db.ImportResources(ctx, storetest.Seq(tagged("acct-"+strconv.Itoa(i), 0, 200)...))
				errs <- err
			}()
		}
		for range cap(errs) {
			if err := <-errs; err != nil {
				t.Errorf("round %d: %v", round, err)
			}
		}
	}
}
