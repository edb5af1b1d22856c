// Package storetest gives tests fresh, migrated store databases on every
// engine, and helpers to seed them.
//
// PostgreSQL comes from TEST_DATABASE_URL if set; else from the server at
// STORETEST_PG_PROBE_URL (default postgres://postgres@127.0.0.1:5432/postgres);
// else from a throwaway cluster this package starts once per test process
// with the binaries in STORETEST_PG_BIN (default /usr/lib/postgresql/15/bin).
// Packages using PostgreSQL should call Main from TestMain so the cluster
// stops when the tests end. When no PostgreSQL can be had, tests skip, or
// fail if CI=true.
package storetest

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/store"
)

// Engines lists every engine; shared tests run once per entry.
var Engines = []string{store.SQLite, store.Postgres}

// ViaPgBouncer is PostgreSQL reached through PgBouncer in transaction mode
// (StartPgBouncer), which this package starts once per test process in
// front of the tests' server. It is a setup, not an engine: the store's
// Engine is Postgres.
const ViaPgBouncer = "postgres-via-pgbouncer"

// Setups lists the engines and ViaPgBouncer: tests of what the store runs
// on a connection (statements, transactions, timeouts) run once per entry.
var Setups = append(slices.Clone(Engines), ViaPgBouncer)

// Engine returns the engine of a setup.
func Engine(setup string) string {
	if setup == ViaPgBouncer {
		return store.Postgres
	}
	return setup
}

// Main runs the tests and then stops the throwaway PostgreSQL cluster and
// PgBouncer, if they were started. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

// Cleanup stops the throwaway PostgreSQL cluster and PgBouncer, if they
// were started: for a TestMain that also needs other packages' clean-ups.
func Cleanup() {
	stopPgBouncer()
	stopCluster()
}

// Open returns a fresh, migrated, empty database of the engine (or setup,
// one of Setups), closed and removed when the test ends.
func Open(tb testing.TB, engine string, opts ...store.Option) *store.DB {
	tb.Helper()
	return OpenURL(tb, URL(tb, engine), opts...)
}

// EachSetup runs test once on each of Setups, as a subtest named after the
// setup, on a fresh database of it opened with opts.
func EachSetup(t *testing.T, test func(t *testing.T, db *store.DB), opts ...store.Option) {
	each(t, Setups, test, opts)
}

// EachEngine is EachSetup over Engines.
func EachEngine(t *testing.T, test func(t *testing.T, db *store.DB), opts ...store.Option) {
	each(t, Engines, test, opts)
}

func each(t *testing.T, setups []string, test func(t *testing.T, db *store.DB), opts []store.Option) {
	t.Helper()
	for _, setup := range setups {
		t.Run(setup, func(t *testing.T) { test(t, Open(t, setup, opts...)) })
	}
}

// OpenURL opens and migrates the database at url (from URL), for a test
// that also reaches it by other means; it is closed when the test ends.
func OpenURL(tb testing.TB, url string, opts ...store.Option) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), url, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

// OpenEmpty is Open without the migration.
func OpenEmpty(tb testing.TB, engine string, opts ...store.Option) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), URL(tb, engine), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// URL returns the URL of a new, empty database of the engine (or setup),
// removed when the test ends. Open it as many times as the test needs.
func URL(tb testing.TB, engine string) string {
	tb.Helper()
	switch engine {
	case store.SQLite:
		return "sqlite:" + filepath.Join(tb.TempDir(), "store.db")
	case store.Postgres:
		return postgresURL(tb)
	case ViaPgBouncer:
		return pgBouncerURL(tb)
	}
	tb.Fatalf("storetest: unknown engine %q (want one of %v)", engine, Setups)
	return ""
}

// MustCreate creates each of rs in turn as the API's create does (its
// event and its webhook deliveries written with it), failing the test on
// error.
func MustCreate(tb testing.TB, db *store.DB, rs ...resources.Resource) {
	tb.Helper()
	for _, r := range rs {
		if err := db.CreateResource(context.Background(), r); err != nil {
			tb.Fatalf("create %s: %v", r.ID, err)
		}
	}
}

// MustImport stores rs, failing the test on error.
func MustImport(tb testing.TB, db *store.DB, rs ...resources.Resource) {
	tb.Helper()
	if _, err := db.ImportResources(context.Background(), Seq(rs...)); err != nil {
		tb.Fatalf("import: %v", err)
	}
}

// Seq yields rs without errors, for ImportResources.
func Seq(rs ...resources.Resource) iter.Seq2[resources.Resource, error] {
	return func(yield func(resources.Resource, error) bool) {
		for _, r := range rs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// BaseTime is the created_at of the first resource NewResource makes.
var BaseTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// Lines returns rs as JSON Lines, in the one form import and export use.
func Lines(tb testing.TB, rs ...resources.Resource) *bytes.Buffer {
	tb.Helper()
	var b bytes.Buffer
	for _, r := range rs {
		if err := resources.EncodeLine(&b, r); err != nil {
			tb.Fatal(err)
		}
	}
	return &b
}

// NewResource returns a valid resource of the account. Its id is random;
// its name and created_at come from n: "file-n.txt" in "/" and BaseTime
// plus n seconds. opts edit it before it is returned.
func NewResource(account string, n int, opts ...func(*resources.Resource)) resources.Resource {
	created := BaseTime.Add(time.Duration(n) * time.Second)
	r := resources.Resource{
		ID:            uuid.NewString(),
		AccountID:     account,
		Name:          fmt.Sprintf("file-%d.txt", n),
		DirectoryPath: "/",
		MimeType:      "text/plain",
		SHA256:        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		StorageBucket: "bucket",
		StorageKey:    fmt.Sprintf("%s/%d", account, n),
		Tags:          []string{},
		CreatedAt:     created,
		UpdatedAt:     created,
	}
	for _, opt := range opts {
		opt(&r)
	}
	return r
}

// In puts the resource in directory dir.
func In(dir string) func(*resources.Resource) {
	return func(r *resources.Resource) { r.DirectoryPath = dir }
}

// Tagged gives the resource tags, which must already be normalized.
func Tagged(tags ...string) func(*resources.Resource) {
	return func(r *resources.Resource) { r.Tags = slices.Clone(tags) }
}

// CreatedAt sets created_at and updated_at.
func CreatedAt(t time.Time) func(*resources.Resource) {
	return func(r *resources.Resource) { r.CreatedAt, r.UpdatedAt = t, t }
}

// ID sets the id.
func ID(id string) func(*resources.Resource) {
	return func(r *resources.Resource) { r.ID = id }
}
