package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // registers "sqlite"

	"github.com/re-factor/resources"
)

// sqliteDialect is SQLite through modernc.org/sqlite. sqlx does not know
// the driver's name, so it keeps "?" placeholders, which SQLite reads.
type sqliteDialect struct{}

var _ dialect = sqliteDialect{}

func (sqliteDialect) name() string { return SQLite }

func (sqliteDialect) open(dsn string, o options) (read, write pool, err error) {
	_, path, _ := strings.Cut(dsn, ":")
	path = strings.TrimPrefix(path, "//")
	if o.readURL != "" {
		return pool{}, pool{}, fmt.Errorf("sqlite: a read URL needs PostgreSQL: SQLite has no replicas")
	}
	if path == "" || strings.HasPrefix(path, "file:") {
		return pool{}, pool{}, fmt.Errorf("sqlite: URL needs a file path (as in sqlite:data/resources.db) or :memory: for one in memory")
	}
	name, err := sqliteName(path)
	if err != nil {
		return pool{}, pool{}, err
	}
	// WAL lets readers run beside the writer; NORMAL sync is durable in WAL
	// mode except for the last commits on power loss.
	common := "_busy_timeout=" + strconv.FormatInt(max(o.statementTimeout.Milliseconds(), 5000), 10) +
		"&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=1"
	// BEGIN IMMEDIATE takes the write lock up front, so a transaction never
	// fails halfway when it turns from reading to writing. One connection
	// writes, because SQLite has one writer at a time and queueing in Go
	// beats spinning on SQLITE_BUSY.
	if write.DB, err = sqlx.Open("sqlite", name+common+"&_txlock=immediate"); err != nil {
		return pool{}, pool{}, err
	}
	write.SetMaxOpenConns(1)
	if read.DB, err = sqlx.Open("sqlite", name+common+"&_query_only=1"+sqliteReadPragmas); err != nil {
		write.Close()
		return pool{}, pool{}, err
	}
	// SQLite reads run on the server's own cores: past two connections a
	// core they only queue for CPU, and each holds its own page cache,
	// prepared statements and C heap (at 1,000,000 rows, 8 connections
	// instead of 4 raised the server's peak RSS by some 20 MB for no more
	// requests a second).
	n := min(o.poolSize, 2*runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	return read, write, nil
}

// sqliteReadPragmas bound the memory of each read connection, which SQLite
// does not share between connections. The list queries read index ranges
// and probe by key, and the operating system's file cache holds the hot
// pages: a page SQLite misses costs a read from it, not from the disk, so
// the benchmark's queries took the same CPU with a page cache of 512 KiB as
// with 8 MiB. So each connection caches 1 MiB (SQLite's default is 2 MB, on
// every connection). No memory map: its pages of the file would count as
// the server's resident memory, up to the size of the database. Sorts and
// temporary b-trees spill to temporary files rather than grow in memory.
const sqliteReadPragmas = "&_pragma=cache_size(-1024)&_pragma=mmap_size(0)&_pragma=temp_store(FILE)"

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

// hasPrefix ranges over the whole path, which SQLite's path index holds.
func (d sqliteDialect) hasPrefix(w *where, p string) (string, []string) {
	marks := d.prefixArgs(w, p)
	cond := d.keyPrefix("r.directory_path", marks)
	if !keyed(p) {
		return cond, nil
	}
	return cond, marks
}

// prefixArgs: SQLite has no starts_with (its LIKE ignores ASCII case, GLOB
// has wildcards), so a prefix is the byte range of the strings starting
// with it, which an index serves.
func (sqliteDialect) prefixArgs(w *where, p string) []string {
	return []string{w.arg(p), w.arg(prefixEnd(p))}
}

func (sqliteDialect) keyPrefix(col string, marks []string) string {
	return col + " >= " + marks[0] + " AND " + col + " < " + marks[1]
}

// joinTags fixes the join order: g0 outer, walked in list order through the
// tag index, and the other tags and the resource probed by key. SQLite's
// planner, given ANALYZE's samples (stat4), would rather walk the rarest tag
// and then sort all its rows (37,845 for Q3 of the benchmark, 300 ms), or
// read the window through the order index and fetch every row for its path.
func (sqliteDialect) joinTags() string { return "CROSS JOIN" }

// plansJoins is false: joinTags fixes the order, the first tag's range
// walked in list order and the rest probed by key (a window on the probed
// tags made SQLite sort the first's range instead).
func (sqliteDialect) plansJoins() bool { return false }

// hasTag probes the tag index at the entry's created_at rather than the
// primary key: a tag's range under a prefix is read in created_at order
// within each directory, so successive probes fall on neighbouring pages
// of the probed tag's range, where the primary key's random ids spread
// them over the account's every page (when the prefix's range was probed,
// 1,645 probes under /d1/d2 at 1M rows: 10 ms a page against 12 by the
// key).
func (sqliteDialect) hasTag(tag string) string {
	return `(SELECT true FROM resource_tags g INDEXED BY resource_tags_tag_idx WHERE g.account_id = g0.account_id AND g.tag = ` +
		tag + ` AND g.created_at = g0.created_at AND g.resource_id = g0.resource_id)`
}

// countTags counts without a probe per row of a common tag, which SQLite
// pays in full (2-3 µs each: 66,231 probes, 60 ms of CPU, for Q3). With a
// prefix, the rarest tag's range under it (resource_tags_path_idx, the
// first of w's tags: rarestFirst) holds created_at, so the window is tested
// there and only its matches probe the other tags, through the tag index
// by created_at: the probes of one directory then fall on a few
// neighbouring pages, where the primary key's random ids spread them over
// the account's every page. A prefix longer than a path key reads its range
// of the path index instead, and probes every tag. With several tags and
// no prefix, their ranges of the tag index, both in (created_at,
// resource_id) order, are merged (INTERSECT with that ORDER BY), reading
// each entry once.
func (sqliteDialect) countTags(w *where) string {
	if w.keyMarks != nil {
		q := `SELECT count(*) FROM resource_tags g0 INDEXED BY resource_tags_path_idx`
		for i, t := range w.tagArgs[1:] {
			g := "g" + strconv.Itoa(i+1)
			q += ` CROSS JOIN resource_tags ` + g + ` INDEXED BY resource_tags_tag_idx ON ` + g + `.account_id = g0.account_id AND ` +
				g + `.tag = ` + t + ` AND ` + g + `.created_at = g0.created_at AND ` + g + `.resource_id = g0.resource_id`
		}
		return q + ` WHERE ` + w.tagUnderPrefix(w.tagArgs[0])
	}
	if w.prefix != "" {
		q := `SELECT count(*) FROM resources r INDEXED BY resources_path_created_idx`
		for i, t := range w.tagArgs {
			g := "g" + strconv.Itoa(i)
			q += ` CROSS JOIN resource_tags ` + g + ` INDEXED BY resource_tags_tag_idx ON ` + g + `.account_id = r.account_id AND ` +
				g + `.tag = ` + t + ` AND ` + g + `.created_at = r.created_at AND ` + g + `.resource_id = r.id`
		}
		return q + ` WHERE r.account_id = ` + w.account + ` AND ` + w.prefix + w.window("r.created_at")
	}
	if len(w.tagArgs) < 2 {
		return ""
	}
	arms := make([]string, len(w.tagArgs))
	for i, t := range w.tagArgs {
		arms[i] = `SELECT created_at, resource_id FROM resource_tags WHERE account_id = ` + w.account +
			` AND tag = ` + t + w.window("created_at")
	}
	return `SELECT count(*) FROM (` + strings.Join(arms, " INTERSECT ") + ` ORDER BY 1, 2)`
}

// snapshot needs no isolation level: a SQLite read transaction sees one
// snapshot already.
func (sqliteDialect) snapshot() *sql.TxOptions { return &sql.TxOptions{ReadOnly: true} }

// importCacheKiB is the write connection's page cache during an import,
// in KiB. Every page a load writes stays dirty until it commits, so the
// default 2 MB spills to the WAL and reads back all the time; and the index
// builds at its end (bulk.go) sort in runs of this size, one a thread.
// Inserting in key order (insertBatch) keeps the pages a batch touches
// few: 8 MiB loaded the benchmark's million rows with as little CPU as
// 32 MiB, which cost 60 MB more memory.
const importCacheKiB = 8 << 10

// beginImport sets the write connection up for a load: a page cache sized
// for it; threads that sort, so that the index builds at its end (bulk.go)
// use every core; and no checks of foreign keys, which every row
// of an import meets by construction: each tag row is stored after its
// resource, in the same transaction, and a resource that fails to store
// fails the import. (With checks on, every tag row would probe resources,
// and SQLite would keep a statement journal for every statement in case
// one failed.) These are settings of the connection, changeable only
// outside a transaction.
func (sqliteDialect) beginImport(ctx context.Context, conn *sqlx.Conn) (func(context.Context) error, error) {
	var cache, threads, fks int
	err := conn.QueryRowContext(ctx, `SELECT cache_size, threads, foreign_keys
		FROM pragma_cache_size, pragma_threads, pragma_foreign_keys`).Scan(&cache, &threads, &fks)
	if err != nil {
		return nil, err
	}
	set := func(ctx context.Context, cache, threads, fks int) error {
		_, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = %d; PRAGMA threads = %d; PRAGMA foreign_keys = %d`,
			cache, threads, fks))
		return err
	}
	if err := set(ctx, -importCacheKiB, min(runtime.GOMAXPROCS(0)-1, 3), 0); err != nil {
		return nil, err
	}
	return func(ctx context.Context) error { return set(ctx, cache, threads, fks) }, nil
}

func (sqliteDialect) importBatch(ctx context.Context, tx *sqlx.Tx, batch []resources.Resource, _ *bulkLoad) (int, error) {
	return insertBatch(ctx, tx, batch)
}

// storageKeys reads the keys in one query (binary collation), under the
// statement timeout as a whole.
func (sqliteDialect) storageKeys(ctx context.Context, db *DB, tx *sqlx.Tx, bucket string, fn func(string) error) error {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	_, err := eachKey(ctx, tctx, tx, `SELECT storage_key FROM resources WHERE storage_bucket = ? ORDER BY storage_key`, fn, bucket)
	return err
}

func (sqliteDialect) beginBulk(ctx context.Context, tx *sqlx.Tx) (*bulkLoad, error) {
	return sqliteBulk(ctx, tx)
}

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
