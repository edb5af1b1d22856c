package store

import "database/sql"

// PoolStats describes one of the database's connection pools.
type PoolStats struct {
	// Name is "read" or "write" on SQLite, which writes through a pool of
	// its own, and "main" on PostgreSQL, where one pool does both.
	Name  string
	Stats sql.DBStats
}

// Stats returns the state of each connection pool, for monitoring.
func (db *DB) Stats() []PoolStats {
	if db.write == db.read {
		return []PoolStats{{Name: "main", Stats: db.read.Stats()}}
	}
	return []PoolStats{
		{Name: "read", Stats: db.read.Stats()},
		{Name: "write", Stats: db.write.Stats()},
	}
}
