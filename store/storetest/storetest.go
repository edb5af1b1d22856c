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
	"context"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/re-factor/resources/store"
)

// Engines lists every engine; shared tests run once per entry.
var Engines = []string{store.SQLite, store.Postgres}

// Main runs the tests and then stops the throwaway PostgreSQL cluster, if
// one was started. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

// Cleanup stops the throwaway PostgreSQL cluster, if one was started: for a
// TestMain that also needs other packages' clean-ups.
func Cleanup() { stopCluster() }

// Open returns a fresh, migrated, empty database of the engine, closed and
// removed when the test ends.
func Open(tb testing.TB, engine string, opts ...store.Option) *store.DB {
	tb.Helper()
	return OpenURL(tb, URL(tb, engine), opts...)
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

// URL returns the URL of a new, empty database of the engine, removed when
// the test ends. Open it as many times as the test needs.
func URL(tb testing.TB, engine string) string {
	tb.Helper()
	switch engine {
	case store.SQLite:
		return "sqlite:" + filepath.Join(tb.TempDir(), "store.db")
	case store.Postgres:
		return postgresURL(tb)
	}
	tb.Fatalf("storetest: unknown engine %q (want one of %v)", engine, Engines)
	return ""
}

// MustImport stores rs, failing the test on error.
func MustImport(tb testing.TB, db *store.DB, rs ...store.Resource) {
	tb.Helper()
	if _, err := db.ImportResources(context.Background(), Seq(rs...)); err != nil {
		tb.Fatalf("import: %v", err)
	}
}

// Seq yields rs without errors, for ImportResources.
func Seq(rs ...store.Resource) iter.Seq2[store.Resource, error] {
	return func(yield func(store.Resource, error) bool) {
		for _, r := range rs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// BaseTime is the created_at of the first resource NewResource makes.
var BaseTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// NewResource returns a valid resource of the account. Its id is random;
// its name and created_at come from n: "file-n.txt" in "/" and BaseTime
// plus n seconds. opts edit it before it is returned.
func NewResource(account string, n int, opts ...func(*store.Resource)) store.Resource {
	created := BaseTime.Add(time.Duration(n) * time.Second)
	r := store.Resource{
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
func In(dir string) func(*store.Resource) {
	return func(r *store.Resource) { r.DirectoryPath = dir }
}

// Tagged gives the resource tags, which must already be normalized.
func Tagged(tags ...string) func(*store.Resource) {
	return func(r *store.Resource) { r.Tags = slices.Clone(tags) }
}

// CreatedAt sets created_at and updated_at.
func CreatedAt(t time.Time) func(*store.Resource) {
	return func(r *store.Resource) { r.CreatedAt, r.UpdatedAt = t, t }
}

// ID sets the id.
func ID(id string) func(*store.Resource) {
	return func(r *store.Resource) { r.ID = id }
}
