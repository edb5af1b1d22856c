package store

import (
	"context"
	"errors"

	"github.com/jmoiron/sqlx"

	"github.com/re-factor/resources"
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
// With clientDeadline it runs as a get or a list does: alone, under the
// statement timeout's context. Without, it runs in a transaction begun as
// the store begins its own, under ctx alone, so that only PostgreSQL's
// statement_timeout can stop it.
func (db *DB) SlowQuery(ctx context.Context, clientDeadline bool) error {
	q := slowQueries[db.Engine()]
	if clientDeadline {
		tctx, cancel := db.withTimeout(ctx)
		defer cancel()
		_, err := db.read.ExecContext(tctx, q)
		return translate(ctx, err)
	}
	tx, err := db.begin(ctx, db.read, nil)
	if err != nil {
		return translate(ctx, err)
	}
	defer rollback(tx)
	_, err = tx.ExecContext(ctx, q)
	return translate(ctx, err)
}

// Setting returns the run-time setting name of a connection of the read
// pool.
func (db *DB) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := db.read.GetContext(ctx, &v, db.read.Rebind(`SELECT current_setting(?)`), name)
	return v, err
}

// SetImportBatchSize makes ImportResources send batches of n resources, so
// tests can cross batch boundaries with few resources.
func (db *DB) SetImportBatchSize(n int) { db.importBatchSize = n }

// WalkCap is how many tag entries a ListQuery.Walk reads at most.
const WalkCap = walkCap

// WriteEventThenFail runs a transaction that creates r and writes its
// event, then fails before committing, as a write that fails after its
// event was written would.
func (db *DB) WriteEventThenFail(ctx context.Context, r resources.Resource) error {
	return db.inTx(ctx, func(tctx context.Context, tx *sqlx.Tx) error {
		if _, err := tx.NamedExecContext(tctx, insertResource, newRow(db.d, r)); err != nil {
			return err
		}
		e := resources.Event{AccountID: r.AccountID, Type: resources.EventCreated, Timestamp: r.CreatedAt,
			ResourceID: r.ID, Data: []byte(`{}`)}
		if _, err := db.appendEvent(tctx, tx, &e); err != nil {
			return err
		}
		return errors.New("failing after the event")
	})
}
