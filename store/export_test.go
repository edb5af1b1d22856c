package store

import (
	"context"
)

// Hooks into the package for its external tests.

// AppliedVersions lists the versions recorded in schema_migrations.
func (db *DB) AppliedVersions(ctx context.Context) ([]int, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}

// SlowQuery runs a statement that takes far longer than any statement
// timeout a test sets, and returns its error as the store's methods would.
// With clientDeadline false it does not bound the statement's context, so
// only PostgreSQL's server-side statement_timeout can stop it.
func (db *DB) SlowQuery(ctx context.Context, clientDeadline bool) error {
	q := `SELECT pg_sleep(30)`
	if db.engine == SQLite {
		q = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000000)
			SELECT count(*) FROM c`
	}
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
