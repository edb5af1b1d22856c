package store

import (
	"context"
	"database/sql"
	"fmt"
)

// ExecSQL runs a statement on the write pool, so that tests in store_test
// can write through paths the store has no method for (yet), and check that
// the database itself keeps derived data right.
func (db *DB) ExecSQL(ctx context.Context, query string, args ...any) error {
	_, err := db.write.ExecContext(ctx, query, args...)
	return err
}

// QueryRowSQL runs a query on the write pool, so that tests in store_test
// can read what the database keeps about itself (statistics, catalogue).
func (db *DB) QueryRowSQL(ctx context.Context, query string, args ...any) *sql.Row {
	return db.write.QueryRowContext(ctx, query, args...)
}

// AnalyseMigrated analyses what migrations of the given SQL would touch.
func (db *DB) AnalyseMigrated(ctx context.Context, sqls ...string) error {
	ms := make([]migration, len(sqls))
	for i, s := range sqls {
		ms[i] = migration{version: i + 1, name: fmt.Sprintf("%04d_test.sql", i+1), sql: s}
	}
	return db.analyseMigrated(ctx, ms)
}
