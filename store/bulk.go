package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

// The names ImportResources gives its steps after reading, for WithImportSteps.
const (
	StepCheckKeys = "indexing and checking keys"
	StepAnalyse   = "analysing"
)

// An ImportOption configures ImportResources.
type ImportOption func(*importOptions)

type importOptions struct {
	step func(name string)
}

func (o importOptions) begin(step string) {
	if o.step != nil {
		o.step(step)
	}
}

// WithImportSteps has ImportResources call step with StepCheckKeys or
// StepAnalyse as each of those steps begins, after the last row is read.
func WithImportSteps(step func(name string)) ImportOption {
	return func(o *importOptions) { o.step = step }
}

// bulkLoad is what an import into empty PostgreSQL tables drops at its
// start and restores before it commits, the way pg_restore loads: a foreign
// key checked once by one anti-join instead of by a query per tag row (two
// thirds of the time of loading resource_tags), and secondary indexes built
// by one sort each instead of row by row. Unique indexes stay, so that a
// conflict is still found at its row and named by its line.
type bulkLoad struct {
	drop, restore []string // statements, restore in order
}

// beginBulk returns the bulk load of tx when the tables import loads are
// empty, else nil: then each row is checked as it is loaded, which leaves
// readers of a serving database undisturbed. Dropping a constraint locks
// both tables until tx ends; in an empty database only readers of nothing
// wait.
func beginBulk(ctx context.Context, tx *sqlx.Tx) (*bulkLoad, error) {
	// The counts (migration 0002) say whether resources is empty without
	// locking it: two imports that both held a lock on it while waiting to
	// lock it exclusively would deadlock.
	var empty bool
	err := tx.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT FROM account_counts WHERE resources > 0)`).Scan(&empty)
	if err != nil || !empty {
		return nil, err
	}
	// In the order every writer takes them (resources, then its tags);
	// dropping the foreign key would lock resource_tags first.
	if _, err := tx.ExecContext(ctx, `LOCK TABLE resources, resource_tags IN ACCESS EXCLUSIVE MODE`); err != nil {
		return nil, err
	}
	// Read from the catalogue rather than repeated here, so that what is
	// restored is exactly what the migrations made. Indexes come back
	// before the foreign keys, whose check may use them.
	rows, err := tx.QueryContext(ctx, `
		SELECT format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid), 1
		FROM pg_index i
		WHERE i.indrelid IN ('resources'::regclass, 'resource_tags'::regclass) AND NOT i.indisunique
		UNION ALL
		SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname),
		       format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
		              pg_get_constraintdef(c.oid)), 2
		FROM pg_constraint c
		WHERE c.contype = 'f' AND c.conrelid IN ('resources'::regclass, 'resource_tags'::regclass)
		ORDER BY 3, 2`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	b := &bulkLoad{}
	for rows.Next() {
		var drop, restore string
		var order int
		if err := rows.Scan(&drop, &restore, &order); err != nil {
			return nil, err
		}
		b.drop, b.restore = append(b.drop, drop), append(b.restore, restore)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Constraints first: an index may back one.
	for i := len(b.drop) - 1; i >= 0; i-- {
		if _, err := tx.ExecContext(ctx, b.drop[i]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// finish restores what beginBulk dropped, checking every foreign key of the
// loaded rows in one statement each.
func (b *bulkLoad) finish(ctx context.Context, tx *sqlx.Tx) error {
	// Like a migration, this grows with the table, not with a statement.
	// The stock 64 MB of sort memory would spill a million rows' index
	// entries to disk; this is spent once, for the load.
	for _, set := range []string{`SET LOCAL statement_timeout = 0`, `SET LOCAL maintenance_work_mem = '256MB'`} {
		if _, err := tx.ExecContext(ctx, set); err != nil {
			return err
		}
	}
	for _, stmt := range b.restore {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return keyViolation(err)
		}
	}
	return nil
}

// keyViolation describes a foreign key violation found by restoring the key
// ("Key (account_id, resource_id)=(acme, 3f…) is not present in table
// "resources"."), or returns err as it is.
func keyViolation(err error) error {
	e := pq.As(err, pqerror.ForeignKeyViolation)
	if e == nil {
		return err
	}
	_, key, _ := strings.Cut(e.Detail, ")=(")
	key = key[:max(strings.LastIndex(key, ")"), 0)]
	return fmt.Errorf("%w: rows of %s refer to a missing row of %s: (%s)", ErrInvalid, e.Table, referenced(e.Detail), key)
}

// referenced returns the table a foreign key violation's detail names.
func referenced(detail string) string {
	_, table, _ := strings.Cut(detail, `present in table "`)
	table, _, _ = strings.Cut(table, `"`)
	return table
}
