package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

// stmtCache runs the queries of one pool that are worth preparing, so that
// PostgreSQL plans each once per server connection rather than on every
// run: a get planned afresh costs the server several times what running it
// does. The texts come from code, not from values (those are arguments), so
// there is one statement per shape of query.
//
// On a direct pool they are prepared in the protocol, by database/sql on
// each connection. Behind a pooler in transaction mode such a statement
// lives on the server connection the pooler lent for one transaction, under
// a name that lib/pq chose for its own connection ("prepared statement "1"
// already exists", or "does not exist", on the next one). There they are
// prepared in SQL instead, under a name derived from their text (execute).
type stmtCache struct {
	mu    sync.Mutex
	pool  pool
	stmts map[string]*sqlx.Stmt // on a direct pool
	names map[string]string     // behind a pooler: each query's stmtName
}

func newStmtCache(p pool) *stmtCache {
	return &stmtCache{pool: p, stmts: map[string]*sqlx.Stmt{}, names: map[string]string{}}
}

// queryx runs query with args.
func (c *stmtCache) queryx(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	if c.pool.perTransaction {
		return c.execute(ctx, query, args)
	}
	s, err := c.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryxContext(ctx, args...)
}

// get runs query with args and scans its first row into dest, a struct.
// It returns sql.ErrNoRows when there is none.
func (c *stmtCache) get(ctx context.Context, dest any, query string, args ...any) error {
	rows, err := c.queryx(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		return cmp.Or(rows.Err(), sql.ErrNoRows)
	}
	// Only a resourceRow itself: a struct that embeds one has its method
	// too but columns of its own, which sqlx finds by reflection.
	if row, ok := dest.(*resourceRow); ok {
		cols, err := destinations(rows, row)
		if err == nil {
			err = rows.Scan(cols...)
		}
		if err != nil {
			return err
		}
	} else if err := rows.StructScan(dest); err != nil {
		return err
	}
	return rows.Close()
}

// prepared returns query prepared on the pool; database/sql prepares it
// again on each connection that runs it for the first time. Preparing and
// closing wait for connections, so neither happens under the cache's lock:
// a transaction that holds a connection and asks for a statement (inTx)
// must never wait behind them, or they behind it.
func (c *stmtCache) prepared(ctx context.Context, query string) (*sqlx.Stmt, error) {
	c.mu.Lock()
	s, ok := c.stmts[query]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := c.pool.PreparexContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	first, ok := c.stmts[query]
	if !ok {
		c.stmts[query] = s
	}
	c.mu.Unlock()
	if ok { // another caller prepared it meanwhile
		s.Close()
		return first, nil
	}
	return s, nil
}

// execute runs query behind a pooler in transaction mode as a statement
// prepared in SQL under a name derived from its text, with args written
// into EXECUTE as literals (which PostgreSQL reads by their parameter's
// type, as it reads arguments sent as text). A server connection that has
// the name has that very statement, whichever client prepared it there, so
// every client's EXECUTE on it reuses the plan PostgreSQL keeps. Each is one
// message, which the pooler hands to one server connection whole.
func (c *stmtCache) execute(ctx context.Context, query string, args []any) (*sqlx.Rows, error) {
	lits, ok := literals(args)
	if !ok {
		return c.pool.QueryxContext(ctx, query, args...)
	}
	name := c.name(query)
	exec := "EXECUTE " + name + lits
	rows, err := c.pool.QueryxContext(ctx, exec)
	if pq.As(err, pqerror.InvalidSQLStatementName) == nil {
		return rows, err
	}
	// That server connection has not prepared it yet.
	rows, err = c.pool.QueryxContext(ctx, "PREPARE "+name+" AS "+query+"; "+exec)
	if pq.As(err, pqerror.DuplicatePstatement) == nil {
		return rows, err
	}
	// The two messages reached two server connections, and the second
	// had prepared it meanwhile: run it unprepared this once.
	return c.pool.QueryxContext(ctx, query, args...)
}

// name returns the name of the statement prepared in SQL for query: the
// same in every process that runs the same text.
func (c *stmtCache) name(query string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.names[query]
	if !ok {
		sum := sha256.Sum256([]byte(query))
		n = "refactor_" + hex.EncodeToString(sum[:12])
		c.names[query] = n
	}
	return n
}

// literals returns args as the parenthesised list of EXECUTE, each a quoted
// literal as lib/pq would send it in text, or false when an argument has no
// such form here (a value of another type, or text holding a NUL, which
// cannot travel in a query string: the caller then binds the arguments).
func literals(args []any) (string, bool) {
	if len(args) == 0 {
		return "", true
	}
	lits := make([]string, len(args))
	for i, a := range args {
		v, err := driver.DefaultParameterConverter.ConvertValue(a)
		if err != nil {
			return "", false
		}
		switch v := v.(type) {
		case nil:
			lits[i] = "NULL"
		case string:
			if strings.IndexByte(v, 0) >= 0 {
				return "", false
			}
			lits[i] = pq.QuoteLiteral(v)
		case int64:
			lits[i] = "'" + strconv.FormatInt(v, 10) + "'"
		case time.Time:
			lits[i] = "'" + string(pq.FormatTimestamp(v)) + "'"
		default:
			return "", false
		}
	}
	return "(" + strings.Join(lits, ", ") + ")", true
}

// prepare readies query for inTx: prepared on the pool now, outside any
// transaction, since preparing takes a connection of the pool, which a
// transaction holding one must not wait for. Behind a pooler in transaction
// mode it does nothing: a statement prepared in the protocol does not
// outlive the server connection's transaction there. A failure leaves the
// query to run unprepared, where it fails again if it must.
func (c *stmtCache) prepare(ctx context.Context, query string) {
	if !c.pool.perTransaction {
		_, _ = c.prepared(ctx, query)
	}
}

// inTx returns query to run in tx: as the statement prepare made, on tx's
// connection (database/sql prepares it there once), or as it is.
func (c *stmtCache) inTx(ctx context.Context, tx *sqlx.Tx, query string) txQuery {
	c.mu.Lock()
	s := c.stmts[query]
	c.mu.Unlock()
	if s == nil {
		return txQuery{tx: tx, query: query}
	}
	return txQuery{tx: tx, query: query, stmt: tx.StmtxContext(ctx, s)}
}

// txQuery is one query of a transaction, prepared or not.
type txQuery struct {
	tx    *sqlx.Tx
	query string
	stmt  *sqlx.Stmt // nil: unprepared
}

// GetContext runs the query and scans its first row into dest.
func (q txQuery) GetContext(ctx context.Context, dest any, args ...any) error {
	if q.stmt != nil {
		return q.stmt.GetContext(ctx, dest, args...)
	}
	return q.tx.GetContext(ctx, dest, q.query, args...)
}

// ExecContext runs the query.
func (q txQuery) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	if q.stmt != nil {
		return q.stmt.ExecContext(ctx, args...)
	}
	return q.tx.ExecContext(ctx, q.query, args...)
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, s := range c.stmts {
		s.Close()
		delete(c.stmts, q)
	}
}
