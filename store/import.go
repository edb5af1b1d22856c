package store

import (
	"cmp"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"iter"
	"path"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/jmoiron/sqlx"
	"github.com/jmoiron/sqlx/reflectx"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	sqlite3 "modernc.org/sqlite/lib"
)

// importBatchSize is how many resources an import holds in memory and sends
// together, unless a test sets DB.importBatchSize. Each batch runs under the
// statement timeout. Larger batches give index inserts more locality.
const importBatchSize = 20000

// resourceInsertColumns are the columns a new resource row gives values
// for; resourceRow's db tags name its fields the same.
var resourceInsertColumns = []string{"account_id", "id", "name", "directory_path", "mime_type", "sha256",
	"original_uri", "external_id", "external_storage_type", "storage_bucket", "storage_key",
	"size_bytes", "metadata", "created_by", "created_at", "updated_at"}

// insertResource is the one INSERT of a resource row, shared by create and
// import, with named arguments bound from a resourceRow.
var insertResource = `INSERT INTO resources (` + strings.Join(resourceInsertColumns, ", ") + `)
	VALUES (:` + strings.Join(resourceInsertColumns, ", :") + `)`

// insertTag adds one tag of a resource. The row carries the resource's
// created_at, which the tag index is ordered by (migration 0006); given
// here, the migration's trigger has no lookup to do.
const insertTag = `INSERT INTO resource_tags (account_id, resource_id, tag, created_at) VALUES (?, ?, ?, ?)`

// ImportResources inserts the resources of rs, every field as given, in one
// transaction: either all are stored or none. It returns how many it stored.
// An error from rs aborts the import and is returned as is. An invalid
// resource gives an error matching ErrInvalid, a resource whose id or path
// is taken one matching ErrConflict; both name the resource's position in rs
// (counting from 1) and the id or path. Once committed, the loaded tables
// are analysed (analyze.go); an error then comes with the count stored.
func (db *DB) ImportResources(ctx context.Context, rs iter.Seq2[Resource, error], opts ...ImportOption) (int64, error) {
	var o importOptions
	for _, opt := range opts {
		opt(&o)
	}
	tx, err := db.write.BeginTxx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: import: %w", translate(ctx, err))
	}
	defer tx.Rollback()
	// bulk.go: into empty tables, keys are checked once at the end.
	bulk, err := db.d.beginBulk(ctx, tx)
	if err != nil {
		return 0, fmt.Errorf("store: import: %w", translate(ctx, err))
	}
	// A second goroutine stores each batch while rs produces the next, so
	// that decoding and the database work at the same time.
	batches := make(chan importBatch)
	failed := make(chan struct{})
	var storeErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		for b := range batches {
			if storeErr = db.storeBatch(ctx, tx, b); storeErr != nil {
				close(failed)
				return
			}
		}
	})
	n, err := readBatches(rs, db.importBatchSize, func(b importBatch) bool {
		select {
		case batches <- b:
			return true
		case <-failed:
			return false
		}
	})
	close(batches)
	wg.Wait()
	if err = cmp.Or(storeErr, err); err != nil {
		return 0, err
	}
	if bulk != nil {
		o.begin(StepCheckKeys)
		if err := bulk.finish(ctx, tx); err != nil {
			return 0, fmt.Errorf("store: import: checking keys: %w", translate(ctx, err))
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: import: %w", translate(ctx, err))
	}
	o.begin(StepAnalyse)
	if err := db.analyseLoaded(ctx); err != nil {
		return n, fmt.Errorf("store: import: stored %d resources, then analysing the tables: %w", n, translate(ctx, err))
	}
	return n, nil
}

// importBatch is a slice of an import; its first resource is number
// skipped+1 of the import.
type importBatch struct {
	rs      []Resource
	skipped int64
}

// readBatches validates the resources of rs and sends them on in batches.
// It returns how many it read, stopping early when send returns false.
func readBatches(rs iter.Seq2[Resource, error], size int, send func(importBatch) bool) (int64, error) {
	var n int64
	b := importBatch{rs: make([]Resource, 0, size)}
	for r, err := range rs {
		if err != nil {
			return n, err
		}
		n++
		if r.Metadata, err = r.validate(); err != nil {
			return n, fmt.Errorf("store: import resource %d: %w", n, err)
		}
		if b.rs = append(b.rs, r); len(b.rs) == size {
			if !send(b) {
				return n, nil
			}
			b = importBatch{rs: make([]Resource, 0, size), skipped: n}
		}
	}
	if len(b.rs) > 0 {
		send(b)
	}
	return n, nil
}

// storeBatch stores the batch under the statement timeout.
func (db *DB) storeBatch(ctx context.Context, tx *sqlx.Tx, b importBatch) error {
	batch := b.rs
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	i, err := db.d.importBatch(tctx, tx, batch)
	if err == nil {
		return nil
	}
	if i < 0 {
		// keyViolation (bulk.go) names the key, as a bulk load's check does.
		return fmt.Errorf("store: import: %w", translate(ctx, keyViolation(err)))
	}
	if cerr := conflict(err, batch[i]); cerr != nil {
		err = cerr
	} else {
		err = translate(ctx, err)
	}
	return fmt.Errorf("store: import resource %d: %w", b.skipped+int64(i)+1, err)
}

// copyBatch loads batch with COPY, the fastest way into PostgreSQL. COPY
// reports errors late, without the row, so on a unique violation it finds
// the offending resource from the key in the error's detail; otherwise it
// returns -1 for the row.
func copyBatch(ctx context.Context, tx *sqlx.Tx, batch []Resource) (int, error) {
	// In primary key order, index inserts hit neighbouring pages.
	order := make([]*Resource, len(batch))
	for i := range batch {
		order[i] = &batch[i]
	}
	slices.SortFunc(order, func(a, b *Resource) int {
		return cmp.Or(strings.Compare(a.AccountID, b.AccountID), strings.Compare(a.ID, b.ID))
	})
	fields := tx.Mapper.TraversalsByName(reflect.TypeFor[resourceRow](), resourceInsertColumns)
	rows := func(yield func([]any) bool) {
		for _, r := range order {
			row := reflect.ValueOf(newRow(postgresDialect{}, *r))
			args := make([]any, len(fields))
			for i, f := range fields {
				args[i] = reflectx.FieldByIndexesReadOnly(row, f).Interface()
			}
			if !yield(args) {
				return
			}
		}
	}
	if err := copyIn(ctx, tx, `COPY resources (`+strings.Join(resourceInsertColumns, ", ")+`) FROM STDIN`, rows); err != nil {
		return conflictRow(err, batch), err
	}
	tags := func(yield func([]any) bool) {
		for _, r := range order {
			created := postgresDialect{}.timeArg(r.CreatedAt)
			for _, t := range r.Tags {
				if !yield([]any{r.AccountID, r.ID, t, created}) {
					return
				}
			}
		}
	}
	return -1, copyIn(ctx, tx, `COPY resource_tags (account_id, resource_id, tag, created_at) FROM STDIN`, tags)
}

func copyIn(ctx context.Context, tx *sqlx.Tx, query string, rows iter.Seq[[]any]) error {
	stmt, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for args := range rows {
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	// Without arguments, Exec ends the COPY and reports what the server
	// found wrong with any row.
	_, err = stmt.ExecContext(ctx)
	return err
}

// conflictRow returns the index in batch of the resource whose key a
// unique violation's detail names ("Key (account_id, id)=(acme, 3f…)
// already exists."; the path key holds the MD5 digests of path and name),
// or -1. When two resources of the batch share the key, it is the later one
// that collides.
func conflictRow(err error, batch []Resource) int {
	e := pq.As(err, pqerror.UniqueViolation)
	if e == nil {
		return -1
	}
	_, key, _ := strings.Cut(e.Detail, ")=(")
	key = key[:max(strings.LastIndex(key, ")"), 0)]
	for i := len(batch) - 1; i >= 0; i-- {
		r := batch[i]
		switch {
		case e.Constraint == "resources_pkey" && key == r.AccountID+", "+r.ID,
			e.Constraint == "resources_path_key" && key == r.AccountID+", "+md5Hex(r.DirectoryPath)+", "+md5Hex(r.Name):
			return i
		}
	}
	return -1
}

// md5Hex is PostgreSQL's md5(text).
func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// insertBatch inserts batch row by row with prepared statements: the way
// in for an engine without a bulk path, and SQLite's fastest. On failure
// it returns the index of the failing resource.
func insertBatch(ctx context.Context, tx *sqlx.Tx, d dialect, batch []Resource) (int, error) {
	rowStmt, err := tx.PrepareNamedContext(ctx, insertResource)
	if err != nil {
		return -1, err
	}
	defer rowStmt.Close()
	tagStmt, err := tx.PreparexContext(ctx, tx.Rebind(insertTag))
	if err != nil {
		return -1, err
	}
	defer tagStmt.Close()
	for i, r := range batch {
		if _, err := rowStmt.ExecContext(ctx, newRow(d, r)); err != nil {
			return i, err
		}
		for _, t := range r.Tags {
			if _, err := tagStmt.ExecContext(ctx, r.AccountID, r.ID, t, d.timeArg(r.CreatedAt)); err != nil {
				return i, err
			}
		}
	}
	return -1, nil
}

// conflict describes a unique violation by r in words, or returns nil if
// err is not one.
func conflict(err error, r Resource) error {
	byID := false
	if e := pq.As(err, pqerror.UniqueViolation); e != nil {
		byID = e.Constraint == "resources_pkey"
	} else if code := sqliteCode(err); code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
		byID = true
	} else if code != sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		return nil
	}
	if byID {
		return fmt.Errorf("%w: resource id %s already exists in account %q", ErrConflict, r.ID, r.AccountID)
	}
	return fmt.Errorf("%w: path %q already exists in account %q",
		ErrConflict, path.Join(r.DirectoryPath, r.Name), r.AccountID)
}
