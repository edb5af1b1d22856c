package store

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq" // registers "postgres"
	"github.com/lib/pq/pqerror"

	"github.com/re-factor/resources"
)

// postgresDialect is PostgreSQL through lib/pq.
type postgresDialect struct{}

var _ dialect = postgresDialect{}

func (postgresDialect) name() string { return Postgres }

func (postgresDialect) open(dsn string, o options) (read, write pool, err error) {
	if write, err = openPostgresPool(dsn, o); err != nil {
		return pool{}, pool{}, err
	}
	read = write
	if o.readURL != "" {
		if read, err = openPostgresPool(o.readURL, o); err != nil {
			write.Close()
			return pool{}, pool{}, fmt.Errorf("read URL: %w", err)
		}
	}
	return read, write, nil
}

// poolModeParam is the URL parameter that says a pooler stands between the
// server and us, named and valued after PgBouncer's own setting. It is ours:
// openPostgresPool removes it before lib/pq, which would send it to the
// server, sees the URL.
const poolModeParam = "pool_mode"

func openPostgresPool(dsn string, o options) (pool, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return pool{}, fmt.Errorf("invalid PostgreSQL URL: %w", err)
	}
	q := u.Query()
	var p pool
	switch mode := q.Get(poolModeParam); mode {
	case "", "session":
	case "transaction":
		p.perTransaction = true
	default:
		return pool{}, fmt.Errorf("%s=%q: want transaction (behind a pooler in transaction mode) or session", poolModeParam, mode)
	}
	q.Del(poolModeParam)
	// One round trip for a query with arguments (parse, bind and execute
	// sent at once), where lib/pq otherwise parses the unnamed statement,
	// waits for its description, then binds it. Behind a pooler in
	// transaction mode the second trip may reach another server connection
	// and bind the statement another client parsed there: wrong rows, or a
	// panic decoding them. The price is that []byte arguments go in binary
	// form, which suits text and bytea but not jsonb (metadata is bound as
	// text, scan.go's jsonText).
	q.Set("binary_parameters", "yes")
	if !p.perTransaction {
		// lib/pq sends unknown parameters as run-time settings, so the
		// server enforces the timeout even if a client stops watching its
		// context. A pooler refuses them (PgBouncer: "unsupported startup
		// parameter"); there each transaction sets its own (begin).
		q.Set("statement_timeout", timeoutMillis(o.statementTimeout))
		for k, v := range sessionSettings {
			if !q.Has(k) {
				q.Set(k, v)
			}
		}
	}
	u.RawQuery = q.Encode()
	if p.DB, err = sqlx.Open("postgres", u.String()); err != nil {
		return pool{}, err
	}
	p.SetMaxOpenConns(o.poolSize)
	p.SetMaxIdleConns(o.poolSize)
	p.SetConnMaxIdleTime(5 * time.Minute)
	return p, nil
}

// sessionSettings are run-time settings of every connection the server
// opens, where the URL does not set them. The server's statements are many
// and short: a page reads a few dozen index entries. But the planner, which
// multiplies the selectivities of a join on two columns, may expect a
// single resource with two common tags in a whole account and cost their
// page as reading both tags' ranges; at 10M rows that passed
// jit_above_cost and parallel_setup_cost, and each page of Q3 launched two
// workers and compiled 71 functions (52-73 ms, where the same plan in one
// process without compiling took 0.6 ms; 49 req/s, 1,435 at 1M). Neither
// pays for statements this short, and under the server's concurrency the
// workers only take cores from other requests. Behind a pooler in
// transaction mode the role's settings must say the same (README).
var sessionSettings = map[string]string{"jit": "off", "max_parallel_workers_per_gather": "0"}

// SessionSettings returns the run-time settings the server's direct
// connections start with, for a tool that runs its statements apart (the
// benchmark's plans and pgbench) and must be planned as the server is.
func SessionSettings() map[string]string { return maps.Clone(sessionSettings) }

// timeoutMillis is d as a statement_timeout: whole milliseconds, rounded
// up, since 0 would mean no timeout.
func timeoutMillis(d time.Duration) string {
	return strconv.FormatInt(max((d+time.Millisecond-1).Milliseconds(), 0), 10)
}

// setLocalTimeout bounds each statement of tx at d on the server.
func setLocalTimeout(ctx context.Context, tx *sqlx.Tx, d time.Duration) error {
	_, err := tx.ExecContext(ctx, `SET LOCAL statement_timeout = `+timeoutMillis(d))
	return err
}

// poolerHint adds to err, a failure to connect, what to do when a pooler
// refused the statement_timeout start-up parameter.
func poolerHint(err error) error {
	if e := pq.As(err, pqerror.ProtocolViolation); e != nil && strings.Contains(e.Message, "unsupported startup parameter") {
		return fmt.Errorf("%w (behind a pooler in transaction mode, add %s=transaction to the URL)", err, poolModeParam)
	}
	return err
}

func (postgresDialect) placeholder(n int) string { return "$" + strconv.Itoa(n) }

func (postgresDialect) timeArg(t time.Time) timestamp {
	return timestamp{t: t.UTC().Truncate(time.Microsecond)}
}

func (postgresDialect) tagsColumn() string {
	return `(SELECT coalesce(string_agg(g.tag, E'\x1f' ORDER BY g.tag), '')
			FROM resource_tags g WHERE g.account_id = r.account_id AND g.resource_id = r.id)`
}

// unixMicros is exact: timestamptz holds whole microseconds, and extract
// returns numeric (double precision before PostgreSQL 14, still within a
// tenth of a microsecond of the value that int8 rounds to).
func (postgresDialect) unixMicros(column string) string {
	return `(extract(epoch FROM ` + column + `) * 1000000)::int8`
}

// hasPrefix ranges over path_key, which holds a path's first pathKeyChars
// characters (migration 0005), so a longer prefix is rechecked in full.
func (d postgresDialect) hasPrefix(w *where, p string) (string, []string) {
	marks := d.prefixArgs(w, pathKey(p))
	cond := d.keyPrefix("r.path_key", marks)
	if !keyed(p) {
		return cond + " AND starts_with(r.directory_path, " + w.arg(p) + ")", nil
	}
	return cond, marks
}

func (postgresDialect) prefixArgs(w *where, p string) []string { return []string{w.arg(p)} }

// keyPrefix: under COLLATE "C" the planner turns starts_with into a range
// scan, and no character is special.
func (postgresDialect) keyPrefix(col string, marks []string) string {
	return "starts_with(" + col + ", " + marks[0] + ")"
}

func (postgresDialect) joinTags() string { return "JOIN" }

func (postgresDialect) plansJoins() bool { return true }

// hasTag probes the primary key, index-only.
func (postgresDialect) hasTag(tag string) string {
	return `(SELECT true FROM resource_tags g WHERE g.account_id = g0.account_id AND g.resource_id = g0.resource_id AND g.tag = ` +
		tag + `)`
}

// countTags counts one tag under a prefix that fits a path key in that
// tag's range of resource_tags_path_idx (migration 0013), index-only: the
// matches and nothing else. Given the join, the planner hashed the
// prefix's range of resources and read the tag's whole range against it
// (t000 under /d1/d2 at 1M rows: 1,645 and 66,231 entries, 11.4 ms, for
// 801 matches, which this reads in 0.2 ms). Any other filter of tags is
// left to the planner, which weighs each tag's statistics (see
// ListQuery.Prepared).
func (postgresDialect) countTags(w *where) string {
	if w.keyMarks == nil || len(w.tagArgs) != 1 {
		return ""
	}
	return `SELECT count(*) FROM resource_tags g0 WHERE ` + w.tagUnderPrefix(w.tagArgs[0])
}

func (postgresDialect) snapshot() *sql.TxOptions {
	return &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
}

// beginImport has nothing to set: the import's transaction sets what it
// needs locally (bulk.go).
func (postgresDialect) beginImport(context.Context, *sqlx.Conn) (func(context.Context) error, error) {
	return func(context.Context) error { return nil }, nil
}

func (postgresDialect) importBatch(ctx context.Context, tx *sqlx.Tx, batch []resources.Resource, bulk *bulkLoad) (int, error) {
	fresh := bulk != nil && bulk.unordered
	return copyBatch(ctx, tx, batch, !fresh, fresh)
}

// keysChunk is how many storage keys a cursor fetches at a time.
const keysChunk = 1000

// storageKeys sorts on the server (COLLATE "C") and fetches keysChunk keys
// at a time through a cursor, each fetch under the statement timeout.
func (postgresDialect) storageKeys(ctx context.Context, db *DB, tx *sqlx.Tx, bucket string, fn func(string) error) error {
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

// migrationLockKey is the advisory lock that serialises servers migrating
// the same database. Any fixed number works; this one is "resource" in
// ASCII.
const migrationLockKey = 0x7265736f75726365

func (postgresDialect) beginBulk(ctx context.Context, tx *sqlx.Tx) (*bulkLoad, error) {
	return postgresBulk(ctx, tx)
}

func (postgresDialect) tablesQuery() string {
	return `SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = current_schema()::regnamespace`
}

// analyse also vacuums: that sets the visibility map, which lets
// index-only scans skip the heap.
func (postgresDialect) analyse(tables []string) string {
	return `VACUUM (ANALYZE) ` + strings.Join(tables, ", ")
}

func (postgresDialect) untimed(ctx context.Context, conn *sql.Conn) (func(), error) {
	if _, err := conn.ExecContext(ctx, `SET statement_timeout = 0`); err != nil {
		return nil, err
	}
	// Back to the pool's setting, from the connection's start-up options.
	return func() { conn.ExecContext(context.WithoutCancel(ctx), `RESET statement_timeout`) }, nil
}

func (postgresDialect) lockMigrations(ctx context.Context, tx *sqlx.Tx) error {
	// The lock is held until tx ends, so a second server waits here and
	// then finds the version recorded.
	if _, err := tx.ExecContext(ctx, `SET LOCAL statement_timeout = 0`); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLockKey))
	return err
}
