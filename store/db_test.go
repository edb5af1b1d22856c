package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func TestOpen(t *testing.T) {
	ctx := context.Background()
	t.Run("unsupported scheme", func(t *testing.T) {
		_, err := store.Open(ctx, "mysql://root:secret@localhost/db")
		if err == nil || !strings.Contains(err.Error(), `"mysql"`) || strings.Contains(err.Error(), "secret") {
			t.Fatalf("got %v, want an error naming the scheme and not the password", err)
		}
	})
	t.Run("sqlite creates the directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a", "b", "store.db")
		db, err := store.Open(ctx, "sqlite:"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if got := db.Engine(); got != store.SQLite {
			t.Errorf("Engine() = %q, want %q", got, store.SQLite)
		}
		if _, err := os.Stat(path); err != nil {
			t.Error(err)
		}
	})
	t.Run("sqlite in memory, one database per Open", func(t *testing.T) {
		a, err := store.Open(ctx, "sqlite::memory:")
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		if err := a.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		// The read pool sees what the write pool migrated.
		if _, err := a.CountResources(ctx, ""); err != nil {
			t.Errorf("count after migrate: %v", err)
		}
		b, err := store.Open(ctx, "sqlite::memory:")
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if _, err := b.CountResources(ctx, ""); err == nil {
			t.Error("a second in-memory database shares the first one's tables")
		}
	})
	t.Run("unreachable postgres", func(t *testing.T) {
		_, err := store.Open(ctx, "postgres://postgres@127.0.0.1:1/none?sslmode=disable")
		if !errors.Is(err, resources.ErrUnavailable) {
			t.Fatalf("got %v, want ErrUnavailable", err)
		}
	})
	for _, engine := range storetest.Setups {
		t.Run(engine, func(t *testing.T) {
			db := storetest.Open(t, engine)
			if got, want := db.Engine(), storetest.Engine(engine); got != want {
				t.Errorf("Engine() = %q, want %q", got, want)
			}
			if err := db.Ping(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storetest.Setups {
		t.Run(engine+"/twice is a no-op", func(t *testing.T) {
			db := storetest.Open(t, engine)
			storetest.MustImport(t, db, storetest.NewResource("acme", 1))
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			assertVersions(t, db, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14})
			if n, err := db.CountResources(ctx, ""); err != nil || n != 1 {
				t.Errorf("CountResources = %d, %v; want 1, nil", n, err)
			}
		})
		t.Run(engine+"/concurrently", func(t *testing.T) {
			url := storetest.URL(t, engine)
			var wg sync.WaitGroup
			errs := make([]error, 4)
			dbs := make([]*store.DB, len(errs))
			for i := range dbs {
				db, err := store.Open(ctx, url)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				dbs[i] = db
			}
			for i, db := range dbs {
				wg.Go(func() { errs[i] = db.Migrate(ctx) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			assertVersions(t, dbs[0], []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14})
		})
	}
}

func assertVersions(t *testing.T, db *store.DB, want []int) {
	t.Helper()
	got, err := db.AppliedVersions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("applied versions = %v, want %v", got, want)
	}
}

// TestSessionSettings checks that the server's PostgreSQL connections start
// without JIT and parallel workers (sessionSettings), unless the URL says
// otherwise.
func TestSessionSettings(t *testing.T) {
	url := storetest.URL(t, store.Postgres)
	for _, tt := range []struct {
		params       string
		jit, workers string
	}{
		{"", "off", "0"},
		{"jit=on&max_parallel_workers_per_gather=1", "on", "1"},
	} {
		u := url
		if tt.params != "" {
			u += "&" + tt.params
		}
		db := storetest.OpenURL(t, u)
		for name, want := range map[string]string{"jit": tt.jit, "max_parallel_workers_per_gather": tt.workers} {
			if got, err := db.Setting(t.Context(), name); err != nil || got != want {
				t.Errorf("URL parameters %q: %s = %q, %v; want %q", tt.params, name, got, err, want)
			}
		}
	}
}

// TestStatementTimeout checks that a statement running past the timeout is
// ended on the server and reported as ErrUnavailable (a 503), through its
// context's deadline (lib/pq sends a cancel request, which PgBouncer passes
// on) and, in a transaction that no context bounds, through PostgreSQL's
// statement_timeout (a start-up parameter, or behind PgBouncer SET LOCAL).
func TestStatementTimeout(t *testing.T) {
	for _, engine := range storetest.Setups {
		t.Run(engine, func(t *testing.T) {
			db := storetest.Open(t, engine, store.WithStatementTimeout(200*time.Millisecond))
			tests := []struct {
				name           string
				clientDeadline bool
			}{
				{"context deadline", true},
				{"server statement_timeout", false},
			}
			for _, tt := range tests {
				if !tt.clientDeadline && db.Engine() != store.Postgres {
					continue // only PostgreSQL has a server to time out
				}
				t.Run(tt.name, func(t *testing.T) {
					start := time.Now()
					err := db.SlowQuery(context.Background(), tt.clientDeadline)
					if !errors.Is(err, resources.ErrUnavailable) {
						t.Fatalf("got %v, want ErrUnavailable", err)
					}
					if d := time.Since(start); d > 5*time.Second {
						t.Errorf("took %v, want about the 200ms timeout", d)
					}
					assertNoSlowQuery(t, db)
				})
			}
			t.Run("caller cancels", func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(100*time.Millisecond, cancel)
				err := db.SlowQuery(ctx, true)
				if !errors.Is(err, context.Canceled) || errors.Is(err, resources.ErrUnavailable) {
					t.Fatalf("got %v, want context.Canceled and not ErrUnavailable", err)
				}
				assertNoSlowQuery(t, db)
			})
			t.Run("store method", func(t *testing.T) {
				// Migrated first under no timeout: a migration's own first
				// statement may already outlast a nanosecond on a busy machine.
				url := storetest.URL(t, engine)
				migrated, err := store.Open(context.Background(), url)
				if err != nil {
					t.Fatal(err)
				}
				defer migrated.Close()
				if err := migrated.Migrate(context.Background()); err != nil {
					t.Fatal(err)
				}
				// Open's ping is under the timeout too, and a busy machine
				// may make even it outlast the least timeout: try again.
				var db *store.DB
				for attempt := 1; ; attempt++ {
					if db, err = store.Open(context.Background(), url, store.WithStatementTimeout(time.Nanosecond)); err == nil || attempt == 5 {
						break
					}
				}
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				_, err = db.ListResources(context.Background(), resources.Filter{AccountID: "acme", Page: 1, PageSize: 20})
				if !errors.Is(err, resources.ErrUnavailable) {
					t.Fatalf("got %v, want ErrUnavailable", err)
				}
			})
		})
	}
}

// assertNoSlowQuery checks that no SlowQuery statement still runs in db's
// database on the server: a statement cut short must not run on there.
func assertNoSlowQuery(t *testing.T, db *store.DB) {
	t.Helper()
	if db.Engine() != store.Postgres {
		return // SQLite runs in this process: an error returned is a statement ended
	}
	var running int
	err := db.QueryRowSQL(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND state = 'active' AND query LIKE 'SELECT pg_sleep%'`).Scan(&running)
	if err != nil {
		t.Fatal(err)
	}
	if running > 0 {
		t.Errorf("%d slow statements still run on the server", running)
	}
}
