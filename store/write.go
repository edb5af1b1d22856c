package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/re-factor/resources"
)

// CreateResource stores r and its tags in one transaction. r must be
// complete and valid (the catalog sets id, storage and timestamps, and
// brings the client's fields into normal form). It returns an error
// matching resources.ErrConflict when the account already has a resource
// with r's id or at r's directory_path and name.
// Its resource.created event is written in the same transaction.
func (db *DB) CreateResource(ctx context.Context, r resources.Resource) error {
	data, err := resources.CreatedData(r)
	if err != nil {
		return fmt.Errorf("store: create resource %s: %w", r.ID, err)
	}
	e := resources.Event{AccountID: r.AccountID, Type: resources.EventCreated, Timestamp: r.CreatedAt,
		ResourceID: r.ID, Data: data}
	insert, args, err := db.write.BindNamed(insertResource, newRow(db.d, r))
	if err != nil {
		return fmt.Errorf("store: create resource %s: %w", r.ID, err)
	}
	if db.d.name() == Postgres {
		// Prepared, it is one round trip and no planning; lib/pq sends a
		// statement with arguments otherwise in two, parsed and planned.
		db.writeStmts.prepare(ctx, insert)
	}
	err = db.writeWithEvent(ctx, &e, func(tctx context.Context, tx *sqlx.Tx) error {
		// Counted by the event's statement, right before the commit: the
		// account's other creates wait for its count's lock (migration
		// 0014). Tags take that lock anyway.
		if db.d.name() == Postgres && len(r.Tags) == 0 {
			if _, err := tx.ExecContext(tctx, `SELECT set_config('`+countAtEvent+`', 'on', true)`); err != nil {
				return err
			}
		}
		if _, err := db.writeStmts.inTx(tctx, tx, insert).ExecContext(tctx, args...); err != nil {
			return err
		}
		return db.insertTags(tctx, tx, r)
	})
	if cerr := conflict(err, r, fmt.Sprintf("%q already exists", path.Join(r.DirectoryPath, r.Name))); cerr != nil {
		return fmt.Errorf("store: create resource: %w", cerr)
	}
	if err != nil {
		return fmt.Errorf("store: create resource %s: %w", r.ID, translate(ctx, err))
	}
	return nil
}

// writeWithEvent runs change in a write transaction and appends e, whose
// Data change may set, in the same one: the change and its event commit
// together or not at all. Once they have, the event is announced.
func (db *DB) writeWithEvent(ctx context.Context, e *resources.Event, change func(context.Context, *sqlx.Tx) error) error {
	db.prepareWrites(ctx)
	var queued int // deliveries of e
	err := db.inTx(ctx, func(tctx context.Context, tx *sqlx.Tx) error {
		if err := change(tctx, tx); err != nil {
			return err
		}
		var err error
		queued, err = db.appendEvent(tctx, tx, e)
		return err
	})
	if err == nil {
		db.committed([]resources.Event{*e}, queued)
	}
	return err
}

// prepareWrites prepares the statements every write of a resource runs on
// PostgreSQL (stmtCache.prepare), before its transaction takes a connection.
func (db *DB) prepareWrites(ctx context.Context) {
	if db.d.name() == Postgres {
		db.writeStmts.prepare(ctx, appendEventPostgres)
		db.writeStmts.prepare(ctx, db.write.Rebind(insertTag))
	}
}

func (db *DB) insertTags(ctx context.Context, tx *sqlx.Tx, r resources.Resource) error {
	if len(r.Tags) == 0 {
		return nil
	}
	insert := db.writeStmts.inTx(ctx, tx, tx.Rebind(insertTag))
	created, key := db.d.timeArg(r.CreatedAt), pathKey(r.DirectoryPath)
	for _, t := range r.Tags {
		if _, err := insert.ExecContext(ctx, r.AccountID, r.ID, t, created, key); err != nil {
			return err
		}
	}
	return nil
}

// GetResource returns the account's resource with id. It returns an error
// matching resources.ErrNotFound when the account has none: a resource of
// another account is indistinguishable from a missing one.
func (db *DB) GetResource(ctx context.Context, accountID, id string) (resources.Resource, error) {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	r, err := db.getResource(tctx, nil, accountID, id)
	if err != nil {
		return resources.Resource{}, fmt.Errorf("store: get resource %s: %w", id, translate(ctx, err))
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
func (db *DB) getResource(ctx context.Context, tx *sqlx.Tx, accountID, id string) (resources.Resource, error) {
	if !resources.ValidID(id) {
		// Not worth a query: no row has such an id, and PostgreSQL's uuid
		// column would refuse it as a value.
		return resources.Resource{}, notFound(fmt.Errorf("%q is no resource id", id))
	}
	var row resourceRow
	var err error
	if tx != nil {
		err = tx.GetContext(ctx, &row, db.getSQL, accountID, id)
	} else {
		// Prepared where it may be: planned once, not on every get.
		err = db.readStmts.get(ctx, &row, db.getSQL, accountID, id)
		if (errors.Is(err, sql.ErrNoRows) || isRecoveryConflict(err)) && db.currentStmts != db.readStmts {
			// The replica may lag the primary by seconds under load: a
			// miss asks the primary, so that a client reads back what it
			// has just written, and so does a get the replica canceled.
			// Both are rare, so the primary's share of the gets stays
			// small.
			err = db.currentStmts.get(ctx, &row, db.getSQL, accountID, id)
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return resources.Resource{}, notFound(err)
	}
	if err != nil {
		return resources.Resource{}, err
	}
	return row.resource(), nil
}

// UpdateResource applies u, in normal form, to the account's resource id,
// sets updated_at to now and returns the resource as stored. It returns an
// error matching resources.ErrNotFound when the account has no such
// resource, and one matching resources.ErrConflict when the new path is
// taken. Its resource.updated event, naming the fields whose values
// changed, is written in the same transaction.
func (db *DB) UpdateResource(ctx context.Context, accountID, id string, u resources.Update, now time.Time) (resources.Resource, error) {
	var r resources.Resource
	e := resources.Event{AccountID: accountID, Type: resources.EventUpdated, Timestamp: now, ResourceID: id}
	err := db.writeWithEvent(ctx, &e, func(tctx context.Context, tx *sqlx.Tx) error {
		before, err := db.getResource(tctx, tx, accountID, id)
		if err != nil {
			return err
		}
		r = before
		u.Apply(&r, now)
		if _, err = tx.NamedExecContext(tctx, `UPDATE resources
			SET name = :name, directory_path = :directory_path, metadata = :metadata, updated_at = :updated_at
			WHERE account_id = :account_id AND id = :id`, newRow(db.d, r)); err != nil {
			return err
		}
		e.Data, err = resources.UpdatedData(before, r)
		return err
	})
	if cerr := conflict(err, r, "another resource of the account has this directory_path and name"); cerr != nil {
		return resources.Resource{}, fmt.Errorf("store: update resource %s: %w", id, cerr)
	}
	if err != nil {
		return resources.Resource{}, fmt.Errorf("store: update resource %s: %w", id, translate(ctx, err))
	}
	return r, nil
}

// DeleteResource removes the account's resource id and its tags, and
// returns what it removed, so the caller can delete the bytes after the
// row. It returns an error matching resources.ErrNotFound when the account has no
// such resource. Its resource.deleted event, at now, is written in the same
// transaction.
func (db *DB) DeleteResource(ctx context.Context, accountID, id string, now time.Time) (resources.Resource, error) {
	var r resources.Resource
	e := resources.Event{AccountID: accountID, Type: resources.EventDeleted, Timestamp: now, ResourceID: id}
	err := db.writeWithEvent(ctx, &e, func(tctx context.Context, tx *sqlx.Tx) error {
		var err error
		if r, err = db.getResource(tctx, tx, accountID, id); err != nil {
			return err
		}
		// Tags go with the row (ON DELETE CASCADE).
		if _, err = tx.ExecContext(tctx, tx.Rebind(`DELETE FROM resources WHERE account_id = ? AND id = ?`), accountID, id); err != nil {
			return err
		}
		e.Data, err = resources.DeletedData(r)
		return err
	})
	if err != nil {
		return resources.Resource{}, fmt.Errorf("store: delete resource %s: %w", id, translate(ctx, err))
	}
	return r, nil
}

// inTx runs fn in a write transaction under the statement timeout and
// commits it; any error rolls it back.
func (db *DB) inTx(ctx context.Context, fn func(context.Context, *sqlx.Tx) error) error {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	tx, err := db.begin(tctx, db.write, nil)
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
