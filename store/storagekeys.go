package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// StorageKeys calls fn with the storage key of every resource whose bytes are
// in bucket, in byte order of the keys (the order in which Go compares
// strings), all from one snapshot of the database. It streams, so memory does
// not grow with the number of resources (each dialect says how). An error
// from fn stops it and is returned as is.
func (db *DB) StorageKeys(ctx context.Context, bucket string, fn func(key string) error) error {
	tx, err := db.begin(ctx, db.read, db.d.snapshot())
	if err != nil {
		return keysError(ctx, err)
	}
	defer tx.Rollback()
	return db.d.storageKeys(ctx, db, tx, bucket, fn)
}

// eachKey runs query under tctx and calls fn with each key it returns. It
// returns how many it read and the first error: fn's as is, the database's
// translated for the caller's ctx.
func eachKey(ctx, tctx context.Context, tx *sqlx.Tx, query string, fn func(string) error, args ...any) (int, error) {
	rows, err := tx.QueryContext(tctx, query, args...)
	if err != nil {
		return 0, keysError(ctx, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var key string
		if err := rows.Scan(&key); err != nil {
			return n, keysError(ctx, err)
		}
		n++
		if err := fn(key); err != nil {
			return n, err
		}
	}
	if err := rows.Err(); err != nil {
		return n, keysError(ctx, err)
	}
	return n, nil
}

func keysError(ctx context.Context, err error) error {
	return fmt.Errorf("store: storage keys: %w", translate(ctx, err))
}
