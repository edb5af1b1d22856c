package store

import (
	"context"
)

// Hooks into the package for its external tests.

// AppliedVersions lists the versions recorded in schema_migrations.
func (db *DB) AppliedVersions(ctx context.Context) ([]int, error) {
	var vs []int
	err := db.read.SelectContext(ctx, &vs, `SELECT version FROM schema_migrations ORDER BY version`)
	return vs, err
}

// slowQueries hold, per engine, a statement that takes far longer than any
// statement timeout a test sets.
var slowQueries = map[string]string{
	Postgres: `SELECT pg_sleep(30)`,
	SQLite: `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000000)
		SELECT count(*) FROM c`,
}

// SlowQuery runs a statement that takes far longer than any statement
// timeout a test sets, and returns its error as the store's methods would.
// With clientDeadline false it does not bound the statement's context, so
// only PostgreSQL's server-side statement_timeout can stop it.
func (db *DB) SlowQuery(ctx context.Context, clientDeadline bool) error {
	q := slowQueries[db.Engine()]
	qctx := ctx
	if clientDeadline {
		var cancel context.CancelFunc
		qctx, cancel = db.withTimeout(ctx)
		defer cancel()
	}
	_, err := db.read.ExecContext(qctx, q)
	return translate(ctx, err)
}

// SetImportBatchSize makes ImportResources send batches of n resources, so
// tests can cross batch boundaries with few resources.
func (db *DB) SetImportBatchSize(n int) { db.importBatchSize = n }
