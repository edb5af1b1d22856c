package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// The engines Open knows, as Engine reports them.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// DB is a handle on the resources database. It is safe for concurrent use.
type DB struct {
	d dialect // the engine: every SQL difference is behind it
	// read serves queries, write changes. On SQLite write holds a single
	// connection; on PostgreSQL they are one pool unless WithReadURL gives
	// read its own.
	read, write pool
	// current is read, unless read is a replica (WithReadURL): then write,
	// whose reads see every commit. What a commit has just woken (the
	// change feed) or revoked (a link) is read there.
	current         pool
	timeout         time.Duration
	importBatchSize int
	cursors         cursorCodec
	readStmts       *stmtCache     // list and get statements on read, prepared where they may be
	currentStmts    *stmtCache     // on current
	writeStmts      *stmtCache     // on write: what every write and every delivery attempt runs
	columns         string         // resourceColumns(d)
	getSQL          string         // getQuery(d)
	totals          *totalsCache   // exact totals by the generation they hold at
	listCounts      *countsCache   // what chose a list's walk (prefixFirst)
	hooks           committedHooks // OnEvents (events.go)
	listenURL       string         // the direct connection LISTEN uses (listen.go)
}

// pool is one pool of connections to the database.
type pool struct {
	*sqlx.DB
	// perTransaction tells that a pooler in transaction mode (PgBouncer's
	// pool_mode=transaction) stands between the pool and the server: each
	// transaction, and each statement outside one, may run on another
	// server connection, so nothing may outlive it there (a prepared
	// statement, a session setting, a session lock).
	perTransaction bool
}

type options struct {
	statementTimeout time.Duration
	poolSize         int
	readURL          string
	listenURL        string
	cursorKey        []byte
}

// An Option configures Open.
type Option func(*options)

// WithStatementTimeout bounds every statement, both through its context and,
// on PostgreSQL, through the server's statement_timeout: a start-up
// parameter of each connection, or behind a pooler in transaction mode a
// setting of each transaction (statements outside one then have only their
// context, whose deadline makes lib/pq send the server a cancel request).
// Zero disables it. The default is 5 seconds.
func WithStatementTimeout(d time.Duration) Option {
	return func(o *options) { o.statementTimeout = d }
}

// WithPoolSize sets the maximum number of open connections: to PostgreSQL,
// or for reading SQLite (which always writes through one connection, and
// reads through at most two a CPU core). The default is 10.
func WithPoolSize(n int) Option {
	return func(o *options) { o.poolSize = max(n, 1) }
}

// WithReadURL sends list and get queries to a second PostgreSQL database,
// typically a streaming replica of the first: reads then scale with
// replicas, at the price of replication lag (a list may not yet show a
// resource just written; a get that finds nothing there asks the first
// database). Empty means the one database serves all.
func WithReadURL(url string) Option {
	return func(o *options) { o.readURL = url }
}

// WithCursorKey sets the key that signs list cursors. Servers sharing a
// database should share it, so that a cursor from one is good on all. The
// default is a random key per Open.
func WithCursorKey(key []byte) Option {
	return func(o *options) { o.cursorKey = key }
}

// Open connects to the database at dsn and checks that it answers. Accepted
// forms are postgres://… or postgresql://… (lib/pq) and sqlite:PATH
// (modernc.org/sqlite; the file and its directory are created if missing).
// A PostgreSQL URL reached through a pooler in transaction mode, such as
// PgBouncer's pool_mode=transaction, must say so with the parameter
// pool_mode=transaction.
// Open does not migrate: call Migrate. An unreachable database gives an
// error matching resources.ErrUnavailable.
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	o := options{statementTimeout: 5 * time.Second, poolSize: 10}
	for _, opt := range opts {
		opt(&o)
	}
	if len(o.cursorKey) == 0 {
		o.cursorKey = newCursorKey()
	}
	scheme, _, _ := strings.Cut(dsn, ":")
	d, ok := dialects[strings.ToLower(scheme)]
	if !ok {
		// Name only the scheme: the rest may hold a password.
		return nil, fmt.Errorf("store: unsupported database URL scheme %q (want postgres, postgresql or sqlite)", scheme)
	}
	read, write, err := d.open(dsn, o)
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	db := &DB{d: d, read: read, write: write, listenURL: cmp.Or(o.listenURL, dsn), timeout: o.statementTimeout,
		importBatchSize: importBatchSize, cursors: newCursorCodec(o.cursorKey),
		columns: resourceColumns(d), getSQL: getQuery(d), totals: newTotalsCache(),
		listCounts: newCountsCache()}
	db.readStmts = newStmtCache(db.read)
	db.current, db.currentStmts = db.read, db.readStmts
	if o.readURL != "" {
		db.current = db.write
		db.currentStmts = newStmtCache(db.current)
	}
	db.writeStmts = db.currentStmts
	if db.current != db.write {
		db.writeStmts = newStmtCache(db.write)
	}
	// Connecting may take longer than a statement: ctx alone bounds it.
	if err := db.ping(ctx, ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open: %w", poolerHint(err))
	}
	return db, nil
}

// Close closes the database's connections.
func (db *DB) Close() error {
	db.readStmts.close()
	db.currentStmts.close()
	db.writeStmts.close()
	err := db.read.Close()
	if db.write != db.read {
		if werr := db.write.Close(); err == nil {
			err = werr
		}
	}
	return err
}

// Ping checks that the database answers within the statement timeout. It
// returns an error matching resources.ErrUnavailable when it does not.
func (db *DB) Ping(ctx context.Context) error {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	return db.ping(ctx, tctx)
}

// ping pings under tctx; ctx is the caller's, for translate.
func (db *DB) ping(ctx, tctx context.Context) error {
	// The writer first: on a new SQLite file it is the one that creates the
	// file and switches it to WAL.
	if err := db.write.PingContext(tctx); err != nil {
		return fmt.Errorf("ping: %w", translate(ctx, err))
	}
	if err := db.read.PingContext(tctx); err != nil {
		return fmt.Errorf("ping: %w", translate(ctx, err))
	}
	return nil
}

// Engine returns Postgres or SQLite.
func (db *DB) Engine() string { return db.d.name() }

// withTimeout bounds one statement, or one short group of them.
func (db *DB) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if db.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, db.timeout)
}

// begin starts a transaction on p. Behind a pooler in transaction mode no
// start-up parameter carries the statement timeout, so the transaction sets
// its own: the server then ends a statement that outlasts it even when this
// process is no longer there to cancel it (killed while the statement waits
// for a lock, say).
func (db *DB) begin(ctx context.Context, p pool, opts *sql.TxOptions) (*sqlx.Tx, error) {
	tx, err := p.BeginTxx(ctx, opts)
	if err != nil || !p.perTransaction || db.timeout <= 0 {
		return tx, err
	}
	if err := setLocalTimeout(ctx, tx, db.timeout); err != nil {
		return nil, errors.Join(err, rollback(tx))
	}
	return tx, nil
}
