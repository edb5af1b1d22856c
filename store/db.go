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

	_ "github.com/lib/pq"  // registers "postgres"
	_ "modernc.org/sqlite" // registers "sqlite"
)

// The engines Open knows, as Engine reports them.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// DB is a handle on the resources database. It is safe for concurrent use.
type DB struct {
	engine string
	// read serves queries. write serves changes; on SQLite it holds a single
	// connection, because SQLite has one writer at a time and queueing in
	// Go beats spinning on SQLITE_BUSY.
	// On PostgreSQL they are one pool unless WithReadURL gives read its own.
	read, write     *sql.DB
	timeout         time.Duration
	importBatchSize int
	cursors         cursorCodec
	readStmts       *stmtCache // prepared list statements on read
}

type options struct {
	statementTimeout time.Duration
	poolSize         int
	readURL          string
	cursorKey        []byte
}

// An Option configures Open.
type Option func(*options)

// WithStatementTimeout bounds every statement, both through its context and,
// on PostgreSQL, through the server's statement_timeout. Zero disables it.
// The default is 5 seconds.
func WithStatementTimeout(d time.Duration) Option {
	return func(o *options) { o.statementTimeout = d }
}

// WithPoolSize sets the maximum number of open connections: to PostgreSQL,
// or for reading SQLite (which always writes through one connection). The
// default is 10.
func WithPoolSize(n int) Option {
	return func(o *options) { o.poolSize = max(n, 1) }
}

// WithReadURL sends list and get queries to a second PostgreSQL database,
// typically a streaming replica of the first: reads then scale with
// replicas, at the price of replication lag (a list may not yet show a
// resource just written). Empty means the one database serves all.
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
// Open does not migrate: call Migrate. An unreachable database gives an
// error matching ErrUnavailable.
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	o := options{statementTimeout: 5 * time.Second, poolSize: 10}
	for _, opt := range opts {
		opt(&o)
	}
	if len(o.cursorKey) == 0 {
		o.cursorKey = newCursorKey()
	}
	scheme, rest, _ := strings.Cut(dsn, ":")
	var db *DB
	var err error
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		db, err = openPostgres(dsn, o)
	case "sqlite":
		db, err = openSQLite(strings.TrimPrefix(rest, "//"), o)
	default:
		// Name only the scheme: the rest may hold a password.
		return nil, fmt.Errorf("store: unsupported database URL scheme %q (want postgres, postgresql or sqlite)", scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	db.cursors = cursorCodec{key: o.cursorKey}
	db.readStmts = newStmtCache(db.read)
	// Connecting may take longer than a statement: ctx alone bounds it.
	if err := db.ping(ctx, ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open: %w", err)
	}
	return db, nil
}

func openPostgres(dsn string, o options) (*DB, error) {
	write, err := openPostgresPool(dsn, o)
	if err != nil {
		return nil, err
	}
	read := write
	if o.readURL != "" {
		if read, err = openPostgresPool(o.readURL, o); err != nil {
			write.Close()
			return nil, fmt.Errorf("read URL: %w", err)
		}
	}
	return &DB{engine: Postgres, read: read, write: write,
		timeout: o.statementTimeout, importBatchSize: importBatchSize}, nil
}

func openPostgresPool(dsn string, o options) (*sql.DB, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("invalid PostgreSQL URL: %w", err)
	}
	// lib/pq sends unknown parameters as run-time settings, so the server
	// enforces the timeout even if a client stops watching its context.
	q := u.Query()
	// Whole milliseconds, rounded up: 0 would mean no timeout.
	ms := (o.statementTimeout + time.Millisecond - 1).Milliseconds()
	q.Set("statement_timeout", strconv.FormatInt(max(ms, 0), 10))
	u.RawQuery = q.Encode()
	pool, err := sql.Open("postgres", u.String())
	if err != nil {
		return nil, err
	}
	pool.SetMaxOpenConns(o.poolSize)
	pool.SetMaxIdleConns(o.poolSize)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	return pool, nil
}

func openSQLite(path string, o options) (*DB, error) {
	if o.readURL != "" {
		return nil, fmt.Errorf("sqlite: a read URL needs PostgreSQL: SQLite has no replicas")
	}
	if path == "" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: URL needs a file path (as in sqlite:data/resources.db) or :memory: for one in memory")
	}
	name, err := sqliteName(path)
	if err != nil {
		return nil, err
	}
	// WAL lets readers run beside the writer; NORMAL sync is durable in WAL
	// mode except for the last commits on power loss.
	common := "_busy_timeout=" + strconv.FormatInt(max(o.statementTimeout.Milliseconds(), 5000), 10) +
		"&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=1"
	// BEGIN IMMEDIATE takes the write lock up front, so a transaction never
	// fails halfway when it turns from reading to writing.
	write, err := sql.Open("sqlite", name+common+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1)
	read, err := sql.Open("sqlite", name+common+"&_query_only=1")
	if err != nil {
		write.Close()
		return nil, err
	}
	read.SetMaxOpenConns(o.poolSize)
	read.SetMaxIdleConns(o.poolSize)
	return &DB{engine: SQLite, read: read, write: write,
		timeout: o.statementTimeout, importBatchSize: importBatchSize}, nil
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

// Close closes the database's connections.
func (db *DB) Close() error {
	db.readStmts.close()
	err := db.read.Close()
	if db.write != db.read {
		if werr := db.write.Close(); err == nil {
			err = werr
		}
	}
	return err
}

// Ping checks that the database answers within the statement timeout. It
// returns an error matching ErrUnavailable when it does not.
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
func (db *DB) Engine() string { return db.engine }

// withTimeout bounds one statement, or one short group of them.
func (db *DB) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if db.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, db.timeout)
}

// timeArg converts t for use as a statement argument: SQLite stores
// timestamps as integer Unix microseconds, PostgreSQL as timestamptz.
func (db *DB) timeArg(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if db.engine == SQLite {
		return t.UnixMicro()
	}
	return t
}
