package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
)

// keysChunk is how many storage keys a PostgreSQL cursor fetches at a time.
const keysChunk = 1000

// StorageKeys calls fn with the storage key of every resource whose bytes are
// in bucket, in byte order of the keys (the order in which Go compares
// strings), all from one snapshot of the database. It streams, so memory does
// not grow with the number of resources: PostgreSQL sorts on the server
// (COLLATE "C") and a cursor fetches keysChunk keys at a time, each fetch
// under the statement timeout; SQLite (binary collation) reads one query,
// under the statement timeout as a whole. An error from fn stops it and is
// returned as is.
func (db *DB) StorageKeys(ctx context.Context, bucket string, fn func(key string) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.engine == Postgres {
		// A cursor lives in a transaction, which also fixes the snapshot.
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := db.read.BeginTx(ctx, opts)
	if err != nil {
		return keysError(ctx, err)
	}
	defer tx.Rollback()
	if db.engine == Postgres {
		return db.fetchKeys(ctx, tx, bucket, fn)
	}
	return db.scanKeys(ctx, tx, bucket, fn)
}

// fetchKeys reads the keys through a PostgreSQL cursor.
func (db *DB) fetchKeys(ctx context.Context, tx *sql.Tx, bucket string, fn func(string) error) error {
	tctx, cancel := db.withTimeout(ctx)
	_, err := tx.ExecContext(tctx, `DECLARE storage_keys NO SCROLL CURSOR FOR
		SELECT storage_key FROM resources WHERE storage_bucket = $1 ORDER BY storage_key COLLATE "C"`, bucket)
	cancel()
	if err != nil {
		return keysError(ctx, err)
	}
	for {
		tctx, cancel := db.withTimeout(ctx)
		n, err := eachKey(ctx, tctx, tx, `FETCH `+strconv.Itoa(keysChunk)+` FROM storage_keys`, fn)
		cancel()
		if err != nil || n < keysChunk {
			return err
		}
	}
}

// scanKeys reads the keys in one SQLite query.
func (db *DB) scanKeys(ctx context.Context, tx *sql.Tx, bucket string, fn func(string) error) error {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	_, err := eachKey(ctx, tctx, tx, `SELECT storage_key FROM resources WHERE storage_bucket = ? ORDER BY storage_key`, fn, bucket)
	return err
}

// eachKey runs query under tctx and calls fn with each key it returns. It
// returns how many it read and the first error: fn's as is, the database's
// translated for the caller's ctx.
func eachKey(ctx, tctx context.Context, tx *sql.Tx, query string, fn func(string) error, args ...any) (int, error) {
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
