package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/re-factor/resources"
)

// A dialect holds everything one engine does differently: how to open it,
// its placeholders and time values, and the SQL fragments and strategies
// where the engines part ways. Everything else in the package is shared, so
// supporting another engine means writing one more dialect.
type dialect interface {
	// name is the engine's name, as DB.Engine reports it; it also names
	// the engine's folder under migrations.
	name() string
	// open returns the read and write pools for dsn, a URL of one of the
	// schemes the dialect claims.
	open(dsn string, o options) (read, write pool, err error)
	// placeholder returns the text standing for the nth argument (from 1)
	// of a query, so that an argument can be referred to more than once.
	placeholder(n int) string
	// timeArg converts t to the engine's stored form, as an argument.
	timeArg(t time.Time) timestamp
	// tagsColumn is a select-list expression: the tags of the resource
	// aliased r in byte order, joined by tagSep (U+001F), "" when it has
	// none.
	tagsColumn() string
	// unixMicros is a select-list expression: column, a timestamp of the
	// resource aliased r, as integer Unix microseconds.
	unixMicros(column string) string
	// hasPrefix returns the condition that r.directory_path starts with p,
	// adding its arguments to w, and, when p is no longer than a path key
	// (pathKeyChars), the placeholders of the arguments keyPrefix takes.
	hasPrefix(w *where, p string) (cond string, keyMarks []string)
	// prefixArgs adds to w the arguments of the prefix p and returns their
	// placeholders, which keyPrefix takes.
	prefixArgs(w *where, p string) []string
	// keyPrefix returns the condition that col, a path key (pathKey),
	// starts with the prefix of marks (prefixArgs), through a range of an
	// index on col.
	keyPrefix(col string, marks []string) string
	// joinTags is the join that brings a list's further tags, and the
	// resources a prefix tests, to its first tag's rows (g0).
	joinTags() string
	// plansJoins reports whether the engine's planner orders a list's joins
	// itself (joinTags is a plain JOIN): then each tag's range needs the
	// window, since any tag may be walked, and a page of tags with a prefix
	// tries the capped walk of walkQuery first, since that planner would
	// rather read whole ranges than probe.
	plansJoins() bool
	// hasTag returns the condition that the resource of the tag row
	// aliased g0 carries the tag whose placeholder is tag, probed by key.
	hasTag(tag string) string
	// countTags returns a query for the number of resources matching w, a
	// filter with tags whose total no maintained count holds, or "" for
	// the count of w's own rows.
	countTags(w *where) string
	// snapshot is the options of a read-only transaction whose queries all
	// see one snapshot.
	snapshot() *sql.TxOptions
	// beginImport sets conn up for an import's load and returns what sets
	// it back.
	beginImport(ctx context.Context, conn *sqlx.Conn) (restore func(context.Context) error, err error)
	// importBatch stores a batch of an import in tx in the engine's fastest
	// way. On failure it returns the index of the failing resource, or -1
	// when it cannot tell.
	// bulk is the import's bulk load, or nil.
	importBatch(ctx context.Context, tx *sqlx.Tx, batch []resources.Resource, bulk *bulkLoad) (int, error)
	// storageKeys calls fn with the keys in bucket, in byte order, reading
	// them through tx, a snapshot transaction.
	storageKeys(ctx context.Context, db *DB, tx *sqlx.Tx, bucket string, fn func(string) error) error
	// lockMigrations makes tx, which applies one migration, wait for any
	// other server migrating the same database, and lifts the statement
	// timeout for it.
	lockMigrations(ctx context.Context, tx *sqlx.Tx) error
	// beginBulk prepares tx, an import's transaction, for the engine's
	// bulk path, or returns nil when the engine has none (bulk.go).
	beginBulk(ctx context.Context, tx *sqlx.Tx) (*bulkLoad, error)
	// tablesQuery lists the names of the schema's own tables.
	tablesQuery() string
	// analyse is the statement that brings the statistics of tables (quoted
	// names) up to date after a bulk change.
	analyse(tables []string) string
	// untimed lifts conn's statement timeout, for work that takes as long
	// as the database's size, and returns what restores it.
	untimed(ctx context.Context, conn *sql.Conn) (restore func(), err error)
}

// dialects maps each URL scheme Open accepts to its engine's dialect.
var dialects = map[string]dialect{
	"postgres":   postgresDialect{},
	"postgresql": postgresDialect{},
	"sqlite":     sqliteDialect{},
}
