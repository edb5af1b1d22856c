package store

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"

	"github.com/lib/pq"
)

// loadedTables are the tables an import writes, directly or by trigger.
var loadedTables = []string{"resources", "resource_tags", "account_counts", "account_tag_counts"}

// analyseLoaded brings the planner's statistics and, on PostgreSQL, the
// visibility map up to date for the tables an import wrote, so that the
// first queries after it get the plans and index-only scans of a settled
// database rather than waiting for autovacuum's next round.
func (db *DB) analyseLoaded(ctx context.Context) error {
	return db.analyse(ctx, loadedTables)
}

// analyseMigrated analyses the tables that the SQL of ms names: a migration
// may add an index on an expression or a column that has no statistics
// yet, or rewrite a table and so clear its visibility map.
func (db *DB) analyseMigrated(ctx context.Context, ms []migration) error {
	if len(ms) == 0 {
		return nil
	}
	return db.withoutTimeout(ctx, func(conn *sql.Conn) error {
		tables, err := migratedTables(ctx, conn, db.d, ms)
		if err != nil {
			return err
		}
		return db.analyseOn(ctx, conn, tables)
	})
}

// migratedTables returns the tables of the schema that the SQL of ms names.
func migratedTables(ctx context.Context, conn *sql.Conn, d dialect, ms []migration) ([]string, error) {
	rows, err := conn.QueryContext(ctx, d.tablesQuery())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		if named(t, ms) {
			tables = append(tables, t)
		}
	}
	return tables, rows.Err()
}

// named reports whether table appears as a word in the SQL of any of ms.
func named(table string, ms []migration) bool {
	word := regexp.MustCompile(`\b` + regexp.QuoteMeta(table) + `\b`)
	for _, m := range ms {
		if word.MatchString(m.sql) {
			return true
		}
	}
	return false
}

// analyse gathers the planner's statistics on tables (and more, as the
// dialect's analyse says).
func (db *DB) analyse(ctx context.Context, tables []string) error {
	return db.withoutTimeout(ctx, func(conn *sql.Conn) error { return db.analyseOn(ctx, conn, tables) })
}

func (db *DB) analyseOn(ctx context.Context, conn *sql.Conn, tables []string) error {
	if len(tables) == 0 {
		return nil
	}
	quoted := make([]string, len(tables))
	for i, t := range tables {
		quoted[i] = pq.QuoteIdentifier(t)
	}
	if _, err := conn.ExecContext(ctx, db.d.analyse(quoted)); err != nil {
		return fmt.Errorf("analysing %s: %w", strings.Join(tables, ", "), err)
	}
	return nil
}

// withoutTimeout runs f on a connection of the write pool under ctx alone:
// like a migration, analysing takes longer on a large database than a
// request's statement may.
func (db *DB) withoutTimeout(ctx context.Context, f func(*sql.Conn) error) error {
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if db.write.perTransaction {
		// No start-up parameter set a timeout to lift, and a SET would
		// outlive f on a server connection other clients share.
		return f(conn)
	}
	restore, err := db.d.untimed(ctx, conn)
	if err != nil {
		return err
	}
	defer restore()
	return f(conn)
}
