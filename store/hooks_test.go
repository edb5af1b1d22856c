package store

import "context"

// ExecSQL runs a statement on the write pool, so that tests in store_test
// can write through paths the store has no method for (yet), and check that
// the database itself keeps derived data right.
func (db *DB) ExecSQL(ctx context.Context, query string, args ...any) error {
	_, err := db.write.ExecContext(ctx, query, args...)
	return err
}
