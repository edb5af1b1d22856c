package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // registers "sqlite"
)

// sqliteDialect is SQLite through modernc.org/sqlite. sqlx does not know
// the driver's name, so it keeps "?" placeholders, which SQLite reads.
type sqliteDialect struct{}

var _ dialect = sqliteDialect{}

func (sqliteDialect) name() string { return SQLite }

func (sqliteDialect) open(dsn string, o options) (read, write *sqlx.DB, err error) {
	_, path, _ := strings.Cut(dsn, ":")
	path = strings.TrimPrefix(path, "//")
	if o.readURL != "" {
		return nil, nil, fmt.Errorf("sqlite: a read URL needs PostgreSQL: SQLite has no replicas")
	}
	if path == "" || strings.HasPrefix(path, "file:") {
		return nil, nil, fmt.Errorf("sqlite: URL needs a file path (as in sqlite:data/resources.db) or :memory: for one in memory")
	}
	name, err := sqliteName(path)
	if err != nil {
		return nil, nil, err
	}
	// WAL lets readers run beside the writer; NORMAL sync is durable in WAL
	// mode except for the last commits on power loss.
	common := "_busy_timeout=" + strconv.FormatInt(max(o.statementTimeout.Milliseconds(), 5000), 10) +
		"&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=1"
	// BEGIN IMMEDIATE takes the write lock up front, so a transaction never
	// fails halfway when it turns from reading to writing. One connection
	// writes, because SQLite has one writer at a time and queueing in Go
	// beats spinning on SQLITE_BUSY.
	if write, err = sqlx.Open("sqlite", name+common+"&_txlock=immediate"); err != nil {
		return nil, nil, err
	}
	write.SetMaxOpenConns(1)
	if read, err = sqlx.Open("sqlite", name+common+"&_query_only=1"); err != nil {
		write.Close()
		return nil, nil, err
	}
	read.SetMaxOpenConns(o.poolSize)
	read.SetMaxIdleConns(o.poolSize)
	return read, write, nil
}

// sqliteName returns the file: URI that opens path. ":memory:" names a new
// database in memory (serve --ephemeral) that both pools share through
// SQLite's memdb VFS, and that lives until the last connection closes.
func sqliteName(path string) (string, error) {
	if path == ":memory:" {
		return "file:/refactor-" + rand.Text() + "?vfs=memdb&", nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", err
	}
	// A file: URI, so that "?" or "#" in the path cannot start parameters.
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?", nil
}

func (sqliteDialect) placeholder(n int) string { return "?" + strconv.Itoa(n) }

func (sqliteDialect) timeArg(t time.Time) timestamp {
	return timestamp{t: t.UTC().Truncate(time.Microsecond), unixMicros: true}
}

func (sqliteDialect) tagsColumn() string {
	return `(SELECT coalesce(group_concat(g.tag, char(31) ORDER BY g.tag), '')
		FROM resource_tags g WHERE g.account_id = r.account_id AND g.resource_id = r.id)`
}

// unixMicros has nothing to convert: SQLite stores the microseconds.
func (sqliteDialect) unixMicros(column string) string { return column }

func (sqliteDialect) hasPrefix(w *where, p string) {
	// SQLite has no starts_with (its LIKE ignores ASCII case, GLOB has
	// wildcards), so give the byte range of strings starting with p, which
	// the path index serves.
	w.and("r.directory_path >= " + w.arg(p) + " AND r.directory_path < " + w.arg(prefixEnd(p)))
}

// snapshot needs no isolation level: a SQLite read transaction sees one
// snapshot already.
func (sqliteDialect) snapshot() *sql.TxOptions { return &sql.TxOptions{ReadOnly: true} }

func (sqliteDialect) importBatch(ctx context.Context, tx *sqlx.Tx, batch []Resource) (int, error) {
	return insertBatch(ctx, tx, sqliteDialect{}, batch)
}

// storageKeys reads the keys in one query (binary collation), under the
// statement timeout as a whole.
func (sqliteDialect) storageKeys(ctx context.Context, db *DB, tx *sqlx.Tx, bucket string, fn func(string) error) error {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	_, err := eachKey(ctx, tctx, tx, `SELECT storage_key FROM resources WHERE storage_bucket = ? ORDER BY storage_key`, fn, bucket)
	return err
}

// beginBulk: SQLite checks keys as it inserts, with nothing to save.
func (sqliteDialect) beginBulk(context.Context, *sqlx.Tx) (*bulkLoad, error) { return nil, nil }

func (sqliteDialect) tablesQuery() string {
	return `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`
}

func (sqliteDialect) analyse(tables []string) string {
	return `ANALYZE ` + strings.Join(tables, "; ANALYZE ")
}

// untimed has nothing to lift: SQLite's only timeout is the context's.
func (sqliteDialect) untimed(context.Context, *sql.Conn) (func(), error) { return func() {}, nil }

// lockMigrations has nothing to do: BEGIN IMMEDIATE already serialises
// writers, and SQLite has no server-side timeout.
func (sqliteDialect) lockMigrations(context.Context, *sqlx.Tx) error { return nil }
