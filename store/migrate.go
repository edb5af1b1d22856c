package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// Migrations are append-only: never edit a file once released; add the next
// number instead. Each engine has its own folder with the same numbers.
//
//go:embed migrations
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// Migrate applies, in order, every embedded migration the database has not
// recorded in schema_migrations, each in its own transaction. Several
// servers may call it at once. It runs under ctx alone, without the
// statement timeout, since a migration may rewrite a large table.
func (db *DB) Migrate(ctx context.Context) error {
	ms, err := migrations(db.d.name())
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	var applied []migration
	for _, m := range ms {
		ok, err := db.apply(ctx, m)
		if err != nil {
			return fmt.Errorf("store: migrate %s: %w", m.name, translate(ctx, err))
		}
		if ok {
			applied = append(applied, m)
		}
	}
	// analyze.go: a migration must not leave the planner with stale
	// statistics on a large database.
	if err := db.analyseMigrated(ctx, applied); err != nil {
		return fmt.Errorf("store: migrate: %w", translate(ctx, err))
	}
	return nil
}

// apply applies m unless the database has recorded it, and reports whether
// it did.
func (db *DB) apply(ctx context.Context, m migration) (bool, error) {
	tx, err := db.begin(ctx, db.write, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	if err := db.d.lockMigrations(ctx, tx); err != nil {
		return false, err
	}
	// schema_migrations is the one table without account_id: it describes
	// the database, not a tenant's data.
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY,
		name    text NOT NULL
	)`); err != nil {
		return false, err
	}
	var applied bool
	err = tx.GetContext(ctx, &applied, tx.Rebind(`SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)`),
		m.version)
	if err != nil || applied {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO schema_migrations (version, name) VALUES (?, ?)`),
		m.version, m.name); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, err
	}
	return true, nil
}

// migrations returns the engine's migrations ordered by version, checking
// that versions run 1, 2, 3… without gaps or repeats.
func migrations(engine string) ([]migration, error) {
	dir := path.Join("migrations", engine)
	entries, err := fs.ReadDir(migrationFiles, dir) // sorted by name
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		prefix, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", e.Name())
		}
		if v != len(ms)+1 {
			return nil, fmt.Errorf("migration %s: want version %d", e.Name(), len(ms)+1)
		}
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	return ms, nil
}
