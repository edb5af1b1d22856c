package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/re-factor/resources"

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
	if o.step != nil && step != "" {
		o.step(step)
	}
}

// WithImportSteps has ImportResources call step with StepCheckKeys or
// StepAnalyse as each of those steps begins, after the last row is read.
func WithImportSteps(step func(name string)) ImportOption {
	return func(o *importOptions) { o.step = step }
}

// bulkLoad is what an import into empty tables drops at its start and
// restores before it commits, the way pg_restore loads: secondary indexes
// are built by one sort each instead of row by row, and what triggers or
// foreign keys would do for every row is done once, set-wise. Unique
// indexes stay, so that a conflict is still found at its row and named by
// its line.
type bulkLoad struct {
	drop, restore []string // statements, each list run in order
	// step names restoring for WithImportSteps, if it is a step of its own
	// (SQLite's builds indexes as part of the load, checking no keys).
	step string
	// onError, if set, turns an error of restoring into the one to report.
	onError func(ctx context.Context, tx *sqlx.Tx, err error) error
	// unordered is set when no unique key is checked during the load: then
	// rows go in the order of the import, for firstDuplicate.
	unordered bool
}

// emptyQuery says whether the tables an import loads are empty, from the
// counts (migration 0002): without locking resources, since two imports
// that both held a lock on it while waiting to lock it exclusively would
// deadlock.
const emptyQuery = `SELECT NOT EXISTS (SELECT 1 FROM account_counts WHERE resources > 0)`

// postgresBulk returns the bulk load of tx when the tables import loads
// are empty, else nil: then each row is checked as it is loaded, which
// leaves readers of a serving database undisturbed. It drops the foreign
// key, checked by one anti-join instead of by a query per tag row, and the
// secondary indexes, built by one sort each. When the tables are still
// empty once locked, it drops the unique keys too, whose probes of a
// growing index took most of the time of COPY: a key that two resources
// share is then found when its index is built, and the first resource to
// repeat an earlier one's key by physical order (firstDuplicate). Dropping
// a constraint locks both tables until tx ends; in an empty database only
// readers of nothing wait.
func postgresBulk(ctx context.Context, tx *sqlx.Tx) (*bulkLoad, error) {
	var empty bool
	if err := tx.QueryRowContext(ctx, emptyQuery).Scan(&empty); err != nil || !empty {
		return nil, err
	}
	// In the order every writer takes them (resources, then its tags);
	// dropping the foreign key would lock resource_tags first.
	if _, err := tx.ExecContext(ctx, `LOCK TABLE resources, resource_tags IN ACCESS EXCLUSIVE MODE`); err != nil {
		return nil, err
	}
	// Another import may have filled them while this one waited.
	var fresh bool
	if err := tx.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT FROM resources)`).Scan(&fresh); err != nil {
		return nil, err
	}
	// Like a migration, restoring grows with the table, not with a
	// statement. The stock 64 MB of sort memory would spill a million
	// rows' index entries to disk; this is spent once, for the load.
	b := &bulkLoad{step: StepCheckKeys, unordered: fresh,
		restore: []string{`SET LOCAL statement_timeout = 0`, `SET LOCAL maintenance_work_mem = '256MB'`,
			// PostgreSQL's default, which sessionSettings turns off: the
			// checks of the keys read whole tables.
			`SET LOCAL max_parallel_workers_per_gather = 2`}}
	if fresh {
		// Lets firstDuplicate look at the rows after a key failed.
		b.restore = append(b.restore, `SAVEPOINT bulk_restore`)
		b.onError = firstDuplicate
	}
	// Read from the catalogue rather than repeated here, so that what is
	// restored is exactly what the migrations made: primary keys first,
	// then the other indexes (unique ones first), then the foreign keys,
	// whose check uses the keys they refer to, other tables' last.
	err := b.read(ctx, tx, `
		SELECT drop, restore, step FROM (
			SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname) AS drop,
			       format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
			              pg_get_constraintdef(c.oid)) AS restore,
			       CASE WHEN c.contype <> 'f' THEN 1
			            WHEN c.conrelid IN ('resources'::regclass, 'resource_tags'::regclass) THEN 4
			            ELSE 5 END AS step, c.conrelid::regclass::text AS tbl
			FROM pg_constraint c
			WHERE c.conrelid IN ('resources'::regclass, 'resource_tags'::regclass)
			  AND (c.contype = 'f' OR $1 AND c.contype IN ('p', 'u'))
			   -- Other tables' keys into a resource (a link's, say): dropping
			   -- its key and truncating need them gone. Those tables are
			   -- empty, as resources is.
			   OR $1 AND c.contype = 'f' AND c.confrelid IN ('resources'::regclass, 'resource_tags'::regclass)
			      AND c.conrelid NOT IN ('resources'::regclass, 'resource_tags'::regclass)
			UNION ALL
			SELECT format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid),
			       CASE WHEN i.indisunique THEN 2 ELSE 3 END, i.indrelid::regclass::text
			FROM pg_index i
			WHERE i.indrelid IN ('resources'::regclass, 'resource_tags'::regclass) AND (NOT i.indisunique OR $1)
			  AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conrelid = i.indrelid AND c.conindid = i.indexrelid)
		) s ORDER BY step, tbl = 'resource_tags', restore`, nil, fresh)
	if err != nil {
		return nil, err
	}
	if err := b.begin(ctx, tx); err != nil {
		return nil, err
	}
	if fresh {
		err = truncate(ctx, tx)
	}
	return b, err
}

// truncate empties resources and resource_tags anew in tx: COPY then
// appends every row in the order of the import, since a table truncated in
// its transaction has no free space for COPY to look for. Their truncate
// triggers are set aside meanwhile: they would empty the counts, which
// hold no resources anyway, and lock account_counts exclusively while
// another import that has read it waits for resources (a deadlock).
func truncate(ctx context.Context, tx *sqlx.Tx) error {
	var triggers []string
	err := tx.SelectContext(ctx, &triggers, `
		SELECT format('ALTER TABLE %s %%s TRIGGER %I', t.tgrelid::regclass, t.tgname)
		FROM pg_trigger t
		WHERE t.tgrelid IN ('resources'::regclass, 'resource_tags'::regclass) AND NOT t.tgisinternal
		  AND t.tgtype & 32 <> 0 -- TRIGGER_TYPE_TRUNCATE`)
	if err != nil {
		return err
	}
	var stmts []string
	for _, t := range triggers {
		stmts = append(stmts, fmt.Sprintf(t, "DISABLE"))
	}
	stmts = append(stmts, `TRUNCATE resources, resource_tags`)
	for _, t := range triggers {
		stmts = append(stmts, fmt.Sprintf(t, "ENABLE"))
	}
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// firstDuplicate returns, after restoring a unique key failed with err,
// the conflict of the first resource of the import whose id or path an
// earlier one holds, or err. The tables were truncated before the load,
// so their physical order (ctid) is the order of the import.
func firstDuplicate(ctx context.Context, tx *sqlx.Tx, err error) error {
	if pq.As(err, pqerror.UniqueViolation) == nil {
		return err
	}
	if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT bulk_restore`); rerr != nil {
		return err
	}
	var n int64
	var byID bool
	var r resources.Resource
	qerr := tx.QueryRowContext(ctx, `
		SELECT n, by_id, account_id, id, directory_path, name FROM (
			SELECT row_number() OVER (ORDER BY ctid) AS n, account_id, id, directory_path, name,
			       count(*) OVER (PARTITION BY account_id, id ORDER BY ctid) > 1 AS by_id,
			       count(*) OVER (PARTITION BY account_id, directory_path, name ORDER BY ctid) > 1 AS by_path
			FROM resources) r
		WHERE by_id OR by_path ORDER BY n LIMIT 1`).Scan(&n, &byID, &r.AccountID, &r.ID, &r.DirectoryPath, &r.Name)
	if qerr != nil {
		return err
	}
	return fmt.Errorf("store: import resource %d: %w", n, conflictError(err, r, byID, importedPathTaken(r)))
}

// sqliteBulk returns the bulk load of tx when the tables import loads are
// empty, else nil. It drops the secondary indexes and the triggers of
// resources and resource_tags: they keep the counts (migrations 0002, 0003
// and 0007) with an upsert or two for every row, which it does instead by
// one GROUP BY each before the triggers return. Foreign keys are not
// checked during an import (beginImport). SQLite has one writer, and tx
// holds the write lock from its start: no other writer can see the tables
// without their triggers.
func sqliteBulk(ctx context.Context, tx *sqlx.Tx) (*bulkLoad, error) {
	var empty bool
	if err := tx.QueryRowContext(ctx, emptyQuery).Scan(&empty); err != nil || !empty {
		return nil, err
	}
	b := &bulkLoad{}
	// Automatic indexes (of UNIQUE and PRIMARY KEY) have no SQL; every
	// other non-unique index and every trigger comes back as the
	// migrations wrote it: indexes first, then the counts, then triggers.
	var triggers []string
	err := b.read(ctx, tx, `
		SELECT printf('DROP INDEX "%w"', s.name), s.sql, 1
		FROM sqlite_schema s JOIN pragma_index_list(s.tbl_name) i ON i.name = s.name
		WHERE s.type = 'index' AND s.tbl_name IN ('resources', 'resource_tags') AND NOT i."unique"
		UNION ALL
		SELECT printf('DROP TRIGGER "%w"', s.name), s.sql, 2
		FROM sqlite_schema s
		WHERE s.type = 'trigger' AND s.tbl_name IN ('resources', 'resource_tags')
		ORDER BY 3, 2`, func(restore string, order int) bool {
		if order == 2 {
			triggers = append(triggers, restore)
		}
		return order != 2
	})
	if err != nil {
		return nil, err
	}
	// The tables were empty, so the counts are those of what was loaded.
	// An account's existing row (with no resources left) moves on to a
	// new generation, as the insert trigger would move it.
	b.restore = append(b.restore, `
		INSERT INTO account_counts (account_id, resources)
		SELECT account_id, count(*) FROM resources WHERE true GROUP BY account_id
		ON CONFLICT (account_id) DO UPDATE SET resources = excluded.resources, generation = generation + 1`, `
		INSERT INTO account_tag_counts (account_id, tag, resources)
		SELECT account_id, tag, count(*) FROM resource_tags WHERE true GROUP BY account_id, tag
		ON CONFLICT (account_id, tag) DO UPDATE SET resources = excluded.resources`)
	b.restore = append(b.restore, triggers...)
	return b, b.begin(ctx, tx)
}

// read appends the rows of query (with args), each a statement that
// drops, one that restores and an order, to b; restores for which keep returns false are
// left for the caller to place.
func (b *bulkLoad) read(ctx context.Context, tx *sqlx.Tx, query string, keep func(restore string, order int) bool, args ...any) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var drop, restore string
		var order int
		if err := rows.Scan(&drop, &restore, &order); err != nil {
			return err
		}
		b.drop = append(b.drop, drop)
		if keep == nil || keep(restore, order) {
			b.restore = append(b.restore, restore)
		}
	}
	return rows.Err()
}

// begin drops what b will restore, in the reverse order: a constraint
// before the index that may back it.
func (b *bulkLoad) begin(ctx context.Context, tx *sqlx.Tx) error {
	for _, stmt := range slices.Backward(b.drop) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// finish restores what begin dropped, checking every key of the loaded
// rows in one statement each.
func (b *bulkLoad) finish(ctx context.Context, tx *sqlx.Tx) error {
	for _, stmt := range b.restore {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			if b.onError != nil {
				err = b.onError(ctx, tx, err)
			}
			return err
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
	return &resources.Error{Kind: resources.ErrInvalid, Err: err,
		Reason: fmt.Sprintf("rows of %s refer to a missing row of %s: (%s)", e.Table, referenced(e.Detail), key)}
}

// referenced returns the table a foreign key violation's detail names.
func referenced(detail string) string {
	_, table, _ := strings.Cut(detail, `present in table "`)
	table, _, _ = strings.Cut(table, `"`)
	return table
}
