package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// CreateResource stores r and its tags in one transaction. r must be
// complete (the caller sets id, storage and timestamps); Validate's rules
// apply. It returns a *ValidationError for an invalid r and an error
// matching ErrConflict when the account already has a resource with r's id
// or at r's directory_path and name.
func (db *DB) CreateResource(ctx context.Context, r Resource) error {
	metadata, err := r.validate()
	if err != nil {
		return fmt.Errorf("store: create resource: %w", err)
	}
	r.Metadata = metadata
	err = db.inTx(ctx, func(tctx context.Context, tx *sqlx.Tx) error {
		if _, err := tx.NamedExecContext(tctx, insertResource, newRow(db.d, r)); err != nil {
			return err
		}
		return insertTags(tctx, tx, db.d, r)
	})
	if cerr := conflict(err, r); cerr != nil {
		return fmt.Errorf("store: create resource: %w", cerr)
	}
	if err != nil {
		return fmt.Errorf("store: create resource %s: %w", r.ID, translate(ctx, err))
	}
	return nil
}

func insertTags(ctx context.Context, tx *sqlx.Tx, d dialect, r Resource) error {
	for _, t := range r.Tags {
		if _, err := tx.ExecContext(ctx, tx.Rebind(insertTag), r.AccountID, r.ID, t, d.timeArg(r.CreatedAt)); err != nil {
			return err
		}
	}
	return nil
}

// GetResource returns the account's resource with id. It returns an error
// matching ErrNotFound when the account has none: a resource of another
// account is indistinguishable from a missing one.
func (db *DB) GetResource(ctx context.Context, accountID, id string) (Resource, error) {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	r, err := db.getResource(tctx, nil, accountID, id)
	if err != nil {
		return Resource{}, fmt.Errorf("store: get resource %s: %w", id, translate(ctx, err))
	}
	return r, nil
}

// getQuery returns getResource's query for the engine of d. Open builds it
// once: it is the same for every call.
func getQuery(d dialect) string {
	return `SELECT ` + resourceColumns(d) + `
		FROM resources r WHERE r.account_id = ` + d.placeholder(1) + ` AND r.id = ` + d.placeholder(2)
}

// getResource reads the resource through tx, or the read pool when tx is
// nil.
func (db *DB) getResource(ctx context.Context, tx *sqlx.Tx, accountID, id string) (Resource, error) {
	if !isUUID(id) {
		return Resource{}, ErrNotFound
	}
	var row resourceRow
	var err error
	if tx != nil {
		err = tx.GetContext(ctx, &row, db.getSQL, accountID, id)
	} else {
		// Prepared: lib/pq runs a query with arguments in two round trips
		// (parse, then bind), a prepared statement in one.
		var stmt *sqlx.Stmt
		if stmt, err = db.readStmts.get(ctx, db.getSQL); err == nil {
			err = stmt.GetContext(ctx, &row, accountID, id)
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return Resource{}, ErrNotFound
	}
	if err != nil {
		return Resource{}, err
	}
	return row.resource(), nil
}

// ResourceUpdate lists the fields UpdateResource changes; nil leaves a
// field as it is. Metadata replaces the stored object whole.
type ResourceUpdate struct {
	Name          *string
	DirectoryPath *string
	Metadata      json.RawMessage
}

// UpdateResource applies u to the account's resource id, sets updated_at to
// now and returns the resource as stored. It returns a *ValidationError for
// an invalid field, an error matching ErrNotFound when the account has no
// such resource, and one matching ErrConflict when the new path is taken.
func (db *DB) UpdateResource(ctx context.Context, accountID, id string, u ResourceUpdate, now time.Time) (Resource, error) {
	var r Resource
	err := db.inTx(ctx, func(tctx context.Context, tx *sqlx.Tx) error {
		var err error
		if r, err = db.getResource(tctx, tx, accountID, id); err != nil {
			return err
		}
		if err = u.apply(&r, now); err != nil {
			return err
		}
		_, err = tx.NamedExecContext(tctx, `UPDATE resources
			SET name = :name, directory_path = :directory_path, metadata = :metadata, updated_at = :updated_at
			WHERE account_id = :account_id AND id = :id`, newRow(db.d, r))
		return err
	})
	if cerr := conflict(err, r); cerr != nil {
		return Resource{}, fmt.Errorf("store: update resource %s: %w", id, cerr)
	}
	if err != nil {
		return Resource{}, fmt.Errorf("store: update resource %s: %w", id, translate(ctx, err))
	}
	return r, nil
}

// apply validates u and writes it into r.
func (u ResourceUpdate) apply(r *Resource, now time.Time) error {
	if u.Name != nil {
		if err := ValidateName(*u.Name); err != nil {
			return err
		}
		r.Name = *u.Name
	}
	if u.DirectoryPath != nil {
		if err := ValidateDirectoryPath(*u.DirectoryPath); err != nil {
			return err
		}
		r.DirectoryPath = *u.DirectoryPath
	}
	if u.Metadata != nil {
		m, err := ValidateMetadata(u.Metadata)
		if err != nil {
			return err
		}
		r.Metadata = m
	}
	r.UpdatedAt = now.UTC().Truncate(time.Microsecond)
	return nil
}

// DeleteResource removes the account's resource id and its tags, and
// returns what it removed, so the caller can delete the bytes after the
// row. It returns an error matching ErrNotFound when the account has no
// such resource.
func (db *DB) DeleteResource(ctx context.Context, accountID, id string) (Resource, error) {
	var r Resource
	err := db.inTx(ctx, func(tctx context.Context, tx *sqlx.Tx) error {
		var err error
		if r, err = db.getResource(tctx, tx, accountID, id); err != nil {
			return err
		}
		// Tags go with the row (ON DELETE CASCADE).
		_, err = tx.ExecContext(tctx, tx.Rebind(`DELETE FROM resources WHERE account_id = ? AND id = ?`), accountID, id)
		return err
	})
	if err != nil {
		return Resource{}, fmt.Errorf("store: delete resource %s: %w", id, translate(ctx, err))
	}
	return r, nil
}

func isUUID(s string) bool {
	u, err := uuid.Parse(s)
	return err == nil && u.String() == s
}

// inTx runs fn in a write transaction under the statement timeout and
// commits it; any error rolls it back.
func (db *DB) inTx(ctx context.Context, fn func(context.Context, *sqlx.Tx) error) error {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	tx, err := db.write.BeginTxx(tctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tctx, tx); err != nil {
		return errors.Join(err, rollback(tx))
	}
	return tx.Commit()
}

func rollback(tx *sqlx.Tx) error {
	if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return err
	}
	return nil
}
