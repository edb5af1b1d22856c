package store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jmoiron/sqlx"

	"github.com/re-factor/resources"
)

// exportChunkSize is how many resources an export reads per query.
const exportChunkSize = 1000

// ExportResources calls fn with every resource of the account, or of all
// accounts when accountID is "", ordered by account, created_at and id. It
// streams: it reads the resources in chunks, each chunk under the statement
// timeout, all from one snapshot of the database. An error from fn stops the
// export and is returned as is.
func (db *DB) ExportResources(ctx context.Context, accountID string, fn func(resources.Resource) error) error {
	tx, err := db.begin(ctx, db.read, db.d.snapshot())
	if err != nil {
		return fmt.Errorf("store: export: %w", translate(ctx, err))
	}
	defer tx.Rollback()
	var after *resources.Resource
	for {
		chunk, err := db.exportChunk(ctx, tx, accountID, after)
		if err != nil {
			return fmt.Errorf("store: export: %w", translate(ctx, err))
		}
		for _, r := range chunk {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(chunk) < exportChunkSize {
			return nil
		}
		after = &chunk[len(chunk)-1]
	}
}

// exportChunk returns the resources that follow after in export order. It
// seeks on the order index rather than using OFFSET, so every chunk costs
// the same.
func (db *DB) exportChunk(ctx context.Context, tx *sqlx.Tx, accountID string, after *resources.Resource) ([]resources.Resource, error) {
	ctx, cancel := db.withTimeout(ctx)
	defer cancel()
	// The cursor leaves out the account when there is only one: SQLite
	// seeks on (created_at, id) after the account, not on the triple.
	w := &where{d: db.d, conds: []string{"true"}}
	switch {
	case accountID != "":
		w.and("r.account_id = " + w.arg(accountID))
		if after != nil {
			w.and("(r.created_at, r.id) > (" + w.arg(db.d.timeArg(after.CreatedAt)) + ", " + w.arg(after.ID) + ")")
		}
	case after != nil:
		w.and("(r.account_id, r.created_at, r.id) > (" + w.arg(after.AccountID) + ", " +
			w.arg(db.d.timeArg(after.CreatedAt)) + ", " + w.arg(after.ID) + ")")
	}
	rows, err := tx.QueryxContext(ctx, `SELECT `+db.columns+`
		FROM resources r
		WHERE `+w.String()+`
		ORDER BY r.account_id, r.created_at, r.id
		LIMIT `+strconv.Itoa(exportChunkSize), w.args...)
	if err != nil {
		return nil, err
	}
	return readResources(rows, &resourceRow{}, make([]resources.Resource, 0, exportChunkSize))
}

// CountResources returns how many resources the account has, or all
// accounts together when accountID is "".
func (db *DB) CountResources(ctx context.Context, accountID string) (int64, error) {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	w := &where{d: db.d, conds: []string{"true"}}
	if accountID != "" {
		w.and("r.account_id = " + w.arg(accountID))
	}
	var n int64
	if err := db.read.GetContext(tctx, &n, `SELECT count(*) FROM resources r WHERE `+w.String(), w.args...); err != nil {
		return 0, fmt.Errorf("store: count resources: %w", translate(ctx, err))
	}
	return n, nil
}
