package store

import (
	"cmp"
	"context"
	"crypto/md5"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/re-factor/resources"
)

// importBatchSize is how many resources an import holds in memory and sends
// together, unless a test sets DB.importBatchSize. Each batch runs under the
// statement timeout. Larger batches give index inserts more locality;
// smaller ones keep the import's memory (about three batches in flight)
// within its 200 MB target.
const importBatchSize = 10000

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
// created_at and path key, which the tag indexes are ordered by
// (migrations 0006 and 0013); given here, the migrations' trigger has no
// lookup to do.
const insertTag = `INSERT INTO resource_tags (account_id, resource_id, tag, created_at, path_key) VALUES (?, ?, ?, ?, ?)`

// ImportResources inserts the resources of rs, every field as given, in one
// transaction: either all are stored or none. It returns how many it stored.
// The resources must be valid (resources.ReadLines yields only valid ones):
// the store checks only what the database itself refuses. An error from rs
// aborts the import and is returned as is. A resource the database refuses
// gives an error matching resources.ErrInvalid, one whose id or path is
// taken one matching resources.ErrConflict; both name the resource's
// position in rs (counting from 1) and the id or path. Once committed, the loaded tables
// are analysed (analyze.go); an error then comes with the count stored.
func (db *DB) ImportResources(ctx context.Context, rs iter.Seq2[resources.Resource, error], opts ...ImportOption) (int64, error) {
	var o importOptions
	for _, opt := range opts {
		opt(&o)
	}
	n, err := db.importRows(ctx, rs, o)
	if err != nil {
		return 0, err
	}
	o.begin(StepAnalyse)
	if err := db.analyseLoaded(ctx); err != nil {
		return n, fmt.Errorf("store: import: stored %d resources, then analysing the tables: %w", n, translate(ctx, err))
	}
	return n, nil
}

// importRows stores the resources of rs in one transaction, on a
// connection set up for the load (the dialect's beginImport) and given
// back before the tables are analysed: SQLite writes through one.
func (db *DB) importRows(ctx context.Context, rs iter.Seq2[resources.Resource, error], o importOptions) (int64, error) {
	conn, err := db.write.Connx(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: import: %w", translate(ctx, err))
	}
	restore, err := db.d.beginImport(ctx, conn)
	if err != nil {
		conn.Close()
		return 0, fmt.Errorf("store: import: %w", translate(ctx, err))
	}
	defer func() {
		// A connection whose settings cannot be put back must not serve
		// anyone else: ErrBadConn makes the pool close it.
		if restore(context.WithoutCancel(ctx)) != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}()
	tx, err := conn.BeginTxx(ctx, nil)
	if err == nil && db.write.perTransaction && db.timeout > 0 {
		// Behind a pooler the timeout is the transaction's (db.begin).
		if err = setLocalTimeout(ctx, tx, db.importTimeout()); err != nil {
			err = errors.Join(err, rollback(tx))
		}
	}
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
	counts := map[string]int64{} // resources stored per account, for the events
	wg.Go(func() {
		for b := range batches {
			if storeErr = db.storeBatch(ctx, tx, b, bulk); storeErr != nil {
				close(failed)
				return
			}
			for i := range b.rs {
				counts[b.rs[i].AccountID]++
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
		o.begin(bulk.step)
		if err := bulk.finish(ctx, tx); errors.Is(err, resources.ErrConflict) {
			return 0, err
		} else if err != nil {
			return 0, fmt.Errorf("store: import: checking keys: %w", translate(ctx, keyViolation(err)))
		}
	}
	events, queued, err := db.importEvents(ctx, tx, counts)
	if err != nil {
		return 0, fmt.Errorf("store: import: %w", translate(ctx, err))
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: import: %w", translate(ctx, err))
	}
	db.committed(events, queued)
	return n, nil
}

// importEvents writes in tx the one resources.imported event of each
// account the import loaded into (resources.EventImported says why one),
// in account order, the order in which every writer takes the counters.
// It also returns how many deliveries they queued.
func (db *DB) importEvents(ctx context.Context, tx *sqlx.Tx, counts map[string]int64) ([]resources.Event, int, error) {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	now := time.Now()
	var events []resources.Event
	queued := 0
	for _, account := range slices.Sorted(maps.Keys(counts)) {
		data, err := resources.ImportedData(counts[account])
		if err != nil {
			return nil, 0, err
		}
		e := resources.Event{AccountID: account, Type: resources.EventImported, Timestamp: now, Data: data}
		n, err := db.appendEvent(tctx, tx, &e)
		if err != nil {
			return nil, 0, err
		}
		events, queued = append(events, e), queued+n
	}
	return events, queued, nil
}

// importBatch is a slice of an import; its first resource is number
// skipped+1 of the import.
type importBatch struct {
	rs      []resources.Resource
	skipped int64
}

// readBatches sends the resources of rs on in batches.
// It returns how many it read, stopping early when send returns false.
func readBatches(rs iter.Seq2[resources.Resource, error], size int, send func(importBatch) bool) (int64, error) {
	var n int64
	b := importBatch{rs: make([]resources.Resource, 0, size)}
	for r, err := range rs {
		if err != nil {
			return n, err
		}
		n++
		if b.rs = append(b.rs, r); len(b.rs) == size {
			if !send(b) {
				return n, nil
			}
			b = importBatch{rs: make([]resources.Resource, 0, size), skipped: n}
		}
	}
	if len(b.rs) > 0 {
		send(b)
	}
	return n, nil
}

// importTimeout bounds one batch of an import: the statement timeout, or
// minBatchTimeout when that is longer. A batch holds thousands of rows, and
// no request waits on an import (the commands, the demo data and --seed
// run them), so the timeout that protects requests would only cut a seed
// short on a busy machine. Call it only when db.timeout is set.
func (db *DB) importTimeout() time.Duration { return max(db.timeout, minBatchTimeout) }

// minBatchTimeout is the least time an import batch is given.
const minBatchTimeout = 10 * time.Minute

// storeBatch stores the batch under the import's timeout.
func (db *DB) storeBatch(ctx context.Context, tx *sqlx.Tx, b importBatch, bulk *bulkLoad) error {
	batch := b.rs
	tctx, cancel := context.WithCancel(ctx)
	if db.timeout > 0 {
		tctx, cancel = context.WithTimeout(ctx, db.importTimeout())
	}
	defer cancel()
	i, err := db.d.importBatch(tctx, tx, batch, bulk)
	if err == nil {
		return nil
	}
	if i < 0 {
		// keyViolation (bulk.go) names the key, as a bulk load's check does.
		return fmt.Errorf("store: import: %w", translate(ctx, keyViolation(err)))
	}
	r := batch[i]
	if cerr := conflict(err, r, importedPathTaken(r)); cerr != nil {
		err = cerr
	} else {
		err = translate(ctx, err)
	}
	return fmt.Errorf("store: import resource %d: %w", b.skipped+int64(i)+1, err)
}

// copyBatch loads batch with COPY, the fastest way into PostgreSQL: in
// primary key order when keyed, so that index inserts hit neighbouring
// pages, else in the order of the import (bulk.go). COPY reports errors
// late, without the row, so on a unique violation it finds the offending
// resource from the key in the error's detail; otherwise it returns -1 for
// the row. freeze, allowed only when tx truncated the tables (bulk.go),
// writes the rows frozen and their pages all-visible, as VACUUM would:
// the index builds that follow and the import's VACUUM (ANALYZE) then
// find nothing to set on them.
func copyBatch(ctx context.Context, tx *sqlx.Tx, batch []resources.Resource, keyed, freeze bool) (int, error) {
	var order []int
	if keyed {
		order = keyOrder(batch)
	} else {
		order = make([]int, len(batch))
		for i := range order {
			order[i] = i
		}
	}
	// Each resource's created_at, as COPY text, for its row and its tags'.
	created := make([]any, len(batch))
	rows := func(yield func([]any) bool) {
		args := make([]any, 0, len(resourceInsertColumns))
		for _, i := range order {
			r := &batch[i]
			created[i] = copyTime(r.CreatedAt)
			args = appendInsertArgs(args[:0], r, created[i], copyTime(r.UpdatedAt))
			if !yield(args) {
				return
			}
		}
	}
	with := ""
	if freeze {
		with = " WITH (FREEZE)"
	}
	if err := copyIn(ctx, tx, `COPY resources (`+strings.Join(resourceInsertColumns, ", ")+`) FROM STDIN`+with, rows); err != nil {
		return conflictRow(err, batch), err
	}
	tags := func(yield func([]any) bool) {
		args := make([]any, 5)
		for _, i := range order {
			r := &batch[i]
			key := pathKey(r.DirectoryPath)
			for _, t := range r.Tags {
				args[0], args[1], args[2], args[3], args[4] = r.AccountID, r.ID, t, created[i], key
				if !yield(args) {
					return
				}
			}
		}
	}
	return -1, copyIn(ctx, tx, `COPY resource_tags (account_id, resource_id, tag, created_at, path_key) FROM STDIN`+with, tags)
}

// copyTime is a timestamptz column's COPY value: t in UTC to the
// microsecond, formatted here rather than by lib/pq, whose general
// formatting took a tenth of an import's CPU (five timestamps a resource
// with its tags'). Years outside 1-9999 are left to lib/pq.
func copyTime(t time.Time) any {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 1 || year > 9999 {
		return t.Truncate(time.Microsecond)
	}
	hour, minute, sec := t.Clock()
	b := make([]byte, 0, len("2006-01-02 15:04:05.000000Z"))
	b = appendDigits(b, year, 4)
	b = appendDigits(append(b, '-'), int(month), 2)
	b = appendDigits(append(b, '-'), day, 2)
	b = appendDigits(append(b, ' '), hour, 2)
	b = appendDigits(append(b, ':'), minute, 2)
	b = appendDigits(append(b, ':'), sec, 2)
	b = appendDigits(append(b, '.'), t.Nanosecond()/1000, 6)
	return string(append(b, 'Z'))
}

// appendDigits appends n in width decimal digits, zero-padded.
func appendDigits(b []byte, n, width int) []byte {
	for i := width - 1; i >= 0; i-- {
		b = append(b, 0)
	}
	for i := len(b) - 1; i >= len(b)-width; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return b
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
func conflictRow(err error, batch []resources.Resource) int {
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

// Rows per statement of insertBatch: a statement's cost beyond its rows
// (database/sql, the driver, a statement journal) is spread over many, up
// to where more rows per statement stopped paying.
const (
	resourcesPerInsert = 100
	tagsPerInsert      = 250
)

// insertBatch inserts batch with multi-row INSERTs, in primary key order:
// SQLite's fastest way in, its times as SQLite stores them (Unix
// microseconds, as sqliteDialect.timeArg gives them). On failure it
// returns the index of the failing resource (failedRow), or -1 when a tag
// row failed: tags fail only if their resource did.
//
// Both INSERTs are OR FAIL: a row that cannot be stored ends its statement
// and leaves the rows before it, which the import's rollback undoes. So
// SQLite keeps no statement journal, which would copy every page a
// statement changes in case it must be undone alone: a tenth of the
// inserts' time in a million-row load.
func insertBatch(ctx context.Context, tx *sqlx.Tx, batch []resources.Resource) (int, error) {
	order := keyOrder(batch)
	rows := newMultiInsert(`INSERT OR FAIL INTO resources (`+strings.Join(resourceInsertColumns, ", ")+`) VALUES `,
		len(resourceInsertColumns), resourcesPerInsert)
	defer rows.close()
	for start := 0; start < len(order); start += resourcesPerInsert {
		chunk := order[start:min(start+resourcesPerInsert, len(order))]
		for _, i := range chunk {
			r := &batch[i]
			rows.args = appendInsertArgs(rows.args, r, r.CreatedAt.UnixMicro(), r.UpdatedAt.UnixMicro())
		}
		if err := rows.exec(ctx, tx); err != nil {
			return failedRow(ctx, tx, batch, chunk, err)
		}
	}
	tags := newMultiInsert(`INSERT OR FAIL INTO resource_tags (account_id, resource_id, tag, created_at, path_key) VALUES `, 5,
		tagsPerInsert)
	defer tags.close()
	for _, i := range order {
		r := &batch[i]
		created, key := r.CreatedAt.UnixMicro(), pathKey(r.DirectoryPath)
		for _, t := range r.Tags {
			tags.args = append(tags.args, r.AccountID, r.ID, t, created, key)
			if tags.full() {
				if err := tags.exec(ctx, tx); err != nil {
					return -1, err
				}
			}
		}
	}
	return -1, tags.exec(ctx, tx)
}

// keyOrder returns the indexes of batch in primary key order, in which
// index inserts hit neighbouring pages.
func keyOrder(batch []resources.Resource) []int {
	order := make([]int, len(batch))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int {
		a, b := &batch[i], &batch[j]
		return cmp.Or(strings.Compare(a.AccountID, b.AccountID), strings.Compare(a.ID, b.ID))
	})
	return order
}

// failedRow returns the index in batch of the resource of chunk (indexes
// of batch, in the order inserted) whose OR FAIL INSERT failed with err,
// and err: the statement stored the rows before it, as many as changes()
// counts, and stopped. Of two resources of batch that share a key, the
// later one collides, as in the order of the import. It returns -1 and
// err if it cannot tell.
func failedRow(ctx context.Context, tx *sqlx.Tx, batch []resources.Resource, chunk []int, err error) (int, error) {
	var stored int
	if cerr := tx.QueryRowContext(ctx, `SELECT changes()`).Scan(&stored); cerr != nil || stored >= len(chunk) {
		return -1, err
	}
	i := chunk[stored]
	r := batch[i]
	byID := sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	if byID || sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		for j := len(batch) - 1; j > i; j-- {
			o := batch[j]
			if o.AccountID == r.AccountID && (byID && o.ID == r.ID ||
				!byID && o.DirectoryPath == r.DirectoryPath && o.Name == r.Name) {
				return j, err
			}
		}
	}
	return i, err
}

// multiInsert runs an INSERT of up to rows rows at a time: args collects
// the values of the next, and exec runs it.
type multiInsert struct {
	head       string // INSERT … VALUES
	cols, rows int
	stmt       *sql.Stmt // prepared for rows rows
	args       []any
}

func newMultiInsert(head string, cols, rows int) *multiInsert {
	return &multiInsert{head: head, cols: cols, rows: rows, args: make([]any, 0, cols*rows)}
}

func (m *multiInsert) full() bool { return len(m.args) == m.cols*m.rows }

// exec inserts the rows of args, if any, and empties it.
func (m *multiInsert) exec(ctx context.Context, tx *sqlx.Tx) error {
	n := len(m.args) / m.cols
	defer func() { m.args = m.args[:0] }()
	if n == 0 {
		return nil
	}
	if n < m.rows {
		_, err := tx.ExecContext(ctx, m.head+valuesList(n, m.cols), m.args...)
		return err
	}
	if m.stmt == nil {
		var err error
		if m.stmt, err = tx.PrepareContext(ctx, m.head+valuesList(m.rows, m.cols)); err != nil {
			return err
		}
	}
	_, err := m.stmt.ExecContext(ctx, m.args...)
	return err
}

func (m *multiInsert) close() {
	if m.stmt != nil {
		m.stmt.Close()
	}
}

// valuesList returns the VALUES list of rows rows of cols placeholders.
func valuesList(rows, cols int) string {
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	return strings.Repeat(row+", ", rows-1) + row
}

// appendInsertArgs appends the values of r's columns, in the order of
// resourceInsertColumns, to args, given its created_at and updated_at as
// the engine takes them. Plain values, not newRow's: the driver then
// converts nothing, which a row's sixteen Valuer calls and a reflective
// walk of its fields made a tenth of the import's CPU.
func appendInsertArgs(args []any, r *resources.Resource, created, updated any) []any {
	var metadata any
	if r.Metadata != nil {
		metadata = string(r.Metadata)
	}
	return append(args, r.AccountID, r.ID, r.Name, r.DirectoryPath, r.MimeType, r.SHA256,
		optionalArg(r.OriginalURI), optionalArg(r.ExternalID), optionalArg(r.ExternalStorageType),
		r.StorageBucket, r.StorageKey, r.SizeBytes, metadata, optionalArg(r.CreatedBy), created, updated)
}

// optionalArg is an optional text column's value: NULL when s is nil.
func optionalArg(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}
