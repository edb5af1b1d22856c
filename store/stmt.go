package store

import (
	"context"
	"sync"

	"github.com/jmoiron/sqlx"
)

// stmtCache holds prepared statements of one pool by their SQL text. The
// texts come from code, not from values (those are arguments), so the
// cache stays small: one entry per shape of query.
type stmtCache struct {
	mu    sync.Mutex
	pool  *sqlx.DB
	stmts map[string]*sqlx.Stmt
}

func newStmtCache(pool *sqlx.DB) *stmtCache {
	return &stmtCache{pool: pool, stmts: map[string]*sqlx.Stmt{}}
}

// get returns query prepared on the pool; database/sql prepares it again on
// each connection that runs it for the first time.
func (c *stmtCache) get(ctx context.Context, query string) (*sqlx.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.stmts[query]; ok {
		return s, nil
	}
	s, err := c.pool.PreparexContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = s
	return s, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, s := range c.stmts {
		s.Close()
		delete(c.stmts, q)
	}
}
