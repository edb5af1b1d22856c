package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/re-factor/resources"
)

// Resumable uploads (uploads table, migration 0009). Every replica sees
// the same row: who holds the upload's lease, how many bytes are stored
// and where their hash stands. A write of progress names the offset it
// starts from and the lease it holds, so a request whose lease lapsed
// can never move an upload another request has moved on.

// errNoUpload is what an upload that is not there, or is another
// account's, answers.
var errNoUpload = &resources.Error{Kind: resources.ErrNotFound, Reason: "upload not found"}

// uploadFields is the fields column: the resource's fields as the
// upload was created with them.
type uploadFields struct {
	Name          string          `json:"name"`
	DirectoryPath string          `json:"directory_path"`
	Tags          []string        `json:"tags"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
	MimeType      string          `json:"mime_type,omitempty"`
	SHA256        string          `json:"sha256,omitempty"`
}

// uploadsLockClass is the first key of the advisory lock that serialises an
// account's upload creates on PostgreSQL (the second is the hash of the
// account's id). Two-key advisory locks are a space apart from the
// one-key lock of migrations.
const uploadsLockClass int32 = 0x75706c64 // "upld"

// CreateUpload stores u, an upload of none of its bytes yet, unless its
// account already has maxOpen unfinished uploads not expired at u's
// creation, which is an error matching resources.ErrTooMany.
//
// The count and the insert are one statement, but under READ COMMITTED
// two creates racing would each count without the other's row: so on
// PostgreSQL the transaction first takes an advisory lock of the account,
// which it holds to its end (pg_advisory_xact_lock: nothing outlives the
// transaction on its connection, so it holds through PgBouncer in
// transaction mode). Accounts do not wait for each other but for a hash
// collision. SQLite runs one write at a time.
func (db *DB) CreateUpload(ctx context.Context, u resources.Upload, maxOpen int) error {
	fields, err := json.Marshal(uploadFields{Name: u.Fields.Name, DirectoryPath: u.Fields.DirectoryPath,
		Tags: u.Fields.Tags, Metadata: u.Fields.Metadata, MimeType: u.MimeType, SHA256: u.SHA256})
	if err != nil {
		return fmt.Errorf("store: create upload %s: %w", u.ID, err)
	}
	var length sql.NullInt64
	if u.Length >= 0 {
		length = sql.NullInt64{Int64: u.Length, Valid: true}
	}
	var link sql.NullString
	if u.LinkID != "" {
		link = sql.NullString{String: u.LinkID, Valid: true}
	}
	var inserted int64
	err = db.inTx(ctx, func(ctx context.Context, tx *sqlx.Tx) error {
		if db.d.name() == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, uploadsLockClass, u.AccountID); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO uploads
			(account_id, id, fields, link_id, created_by, length, "offset", state, created_at, expires_at)
			SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
			WHERE (SELECT COUNT(*) FROM uploads
				WHERE account_id = ? AND completed_at IS NULL AND expires_at > ?) < ?`),
			u.AccountID, u.ID, string(fields), link, optionalText{u.CreatedBy}, length, u.Offset, u.State,
			db.d.timeArg(u.CreatedAt), db.d.timeArg(u.ExpiresAt), u.AccountID, db.d.timeArg(u.CreatedAt), maxOpen)
		if err != nil {
			return err
		}
		inserted, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("store: create upload %s: %w", u.ID, translate(ctx, err))
	}
	if inserted == 0 {
		return fmt.Errorf("store: create upload %s: %w", u.ID, &resources.Error{Kind: resources.ErrTooMany,
			Reason: fmt.Sprintf("the account has %d unfinished uploads, the most it may have: finish or delete one first", maxOpen)})
	}
	return nil
}

type uploadRow struct {
	AccountID string         `db:"account_id"`
	ID        string         `db:"id"`
	Fields    string         `db:"fields"`
	LinkID    sql.NullString `db:"link_id"`
	CreatedBy optionalText   `db:"created_by"`
	Length    sql.NullInt64  `db:"length"`
	Offset    int64          `db:"offset"`
	State     []byte         `db:"state"`
	CreatedAt timestamp      `db:"created_at"`
	ExpiresAt timestamp      `db:"expires_at"`
	Completed sql.NullInt64  `db:"completed_at"`
}

func uploadColumns(d dialect) string {
	return `u.account_id, u.id, u.fields, u.link_id, u.created_by, u.length, u."offset" AS "offset", u.state, ` +
		d.unixMicros("u.created_at") + ` AS created_at, ` + d.unixMicros("u.expires_at") + ` AS expires_at, ` +
		d.unixMicros("u.completed_at") + ` AS completed_at`
}

func (row uploadRow) upload() (resources.Upload, error) {
	var f uploadFields
	if err := json.Unmarshal([]byte(row.Fields), &f); err != nil {
		return resources.Upload{}, fmt.Errorf("fields of upload %s: %w", row.ID, err)
	}
	u := resources.Upload{ID: row.ID, AccountID: row.AccountID,
		Fields:   resources.Fields{Name: f.Name, DirectoryPath: f.DirectoryPath, Tags: f.Tags, Metadata: f.Metadata},
		MimeType: f.MimeType, SHA256: f.SHA256, LinkID: row.LinkID.String, CreatedBy: row.CreatedBy.s,
		Length: -1, Offset: row.Offset, State: row.State, CreatedAt: row.CreatedAt.t, ExpiresAt: row.ExpiresAt.t}
	if row.Length.Valid {
		u.Length = row.Length.Int64
	}
	if row.Completed.Valid {
		u.Completed = time.UnixMicro(row.Completed.Int64).UTC()
	}
	return u, nil
}

// GetUpload returns the account's upload id, finished or not. It returns
// an error matching resources.ErrNotFound when the account has none.
func (db *DB) GetUpload(ctx context.Context, accountID, id string) (resources.Upload, error) {
	if !resources.ValidID(id) {
		return resources.Upload{}, fmt.Errorf("store: get upload: %w", errNoUpload)
	}
	return db.oneUpload(ctx, "get upload", id,
		`u.account_id = `+db.d.placeholder(1)+` AND u.id = `+db.d.placeholder(2), accountID, id)
}

// oneUpload reads the upload id that where, a condition on uploads u with
// args, picks; what names the caller in errors.
func (db *DB) oneUpload(ctx context.Context, what, id, where string, args ...any) (resources.Upload, error) {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	var row uploadRow
	err := db.write.GetContext(tctx, &row, `SELECT `+uploadColumns(db.d)+` FROM uploads u WHERE `+where, args...)
	if errors.Is(err, sql.ErrNoRows) {
		err = errNoUpload
	}
	if err != nil {
		return resources.Upload{}, fmt.Errorf("store: %s %s: %w", what, id, translate(ctx, err))
	}
	u, err := row.upload()
	if err != nil {
		return resources.Upload{}, fmt.Errorf("store: %s: %w", what, err)
	}
	return u, nil
}

// SaveUploadProgress records that the account's upload id, at offset
// from, now holds offset bytes whose state is state and expires at
// expires, if holder still holds its lease and nobody moved it from from.
// It returns an error matching resources.ErrConflict when either is no
// longer so.
func (db *DB) SaveUploadProgress(ctx context.Context, accountID, id, holder string, from, offset int64, state []byte, expires time.Time) error {
	n, err := db.execCount(ctx, `UPDATE uploads SET "offset" = ?, state = ?, expires_at = ?
		WHERE account_id = ? AND id = ? AND "offset" = ? AND lease_holder = ? AND completed_at IS NULL`,
		offset, state, db.d.timeArg(expires), accountID, id, from, holder)
	if err == nil && n == 0 {
		err = &resources.Error{Kind: resources.ErrConflict, Reason: "the upload moved on or its lock was lost; HEAD it and resume"}
	}
	if err != nil {
		return fmt.Errorf("store: save progress of upload %s: %w", id, err)
	}
	return nil
}

// DeclareUploadLength sets the length of the account's upload id, which
// must have none yet. It returns an error matching resources.ErrNotFound
// when the account has no such upload, and one matching
// resources.ErrConflict when its length is set.
func (db *DB) DeclareUploadLength(ctx context.Context, accountID, id string, length int64) error {
	n, err := db.execCount(ctx, `UPDATE uploads SET length = ?
		WHERE account_id = ? AND id = ? AND length IS NULL AND "offset" <= ?`, length, accountID, id, length)
	if err == nil && n == 0 {
		err = &resources.Error{Kind: resources.ErrConflict, Field: "Upload-Length", Reason: "is already declared"}
	}
	if err != nil {
		return fmt.Errorf("store: declare length of upload %s: %w", id, err)
	}
	return nil
}

// CompleteUpload marks the account's upload id as become its resource at
// now, so that its URL says so until the row expires.
func (db *DB) CompleteUpload(ctx context.Context, accountID, id string, now time.Time) error {
	_, err := db.execCount(ctx, `UPDATE uploads SET completed_at = ? WHERE account_id = ? AND id = ?`,
		db.d.timeArg(now), accountID, id)
	if err != nil {
		return fmt.Errorf("store: complete upload %s: %w", id, err)
	}
	return nil
}

// DeleteUpload removes the account's upload id. It returns an error
// matching resources.ErrNotFound when there is none.
func (db *DB) DeleteUpload(ctx context.Context, accountID, id string) error {
	n, err := db.execCount(ctx, `DELETE FROM uploads WHERE account_id = ? AND id = ?`, accountID, id)
	if err == nil && n == 0 {
		err = errNoUpload
	}
	if err != nil {
		return fmt.Errorf("store: delete upload %s: %w", id, err)
	}
	return nil
}

// ExpiredUploads returns up to limit uploads that expired before now,
// unfinished or finished, oldest expiry first, for garbage collection.
// An upload whose lease is held at now is not among them: a request is
// writing it (and moving its expiry at its next step).
func (db *DB) ExpiredUploads(ctx context.Context, now time.Time, limit int) ([]resources.Upload, error) {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	var rows []uploadRow
	err := db.write.SelectContext(tctx, &rows, `SELECT `+uploadColumns(db.d)+` FROM uploads u
		WHERE u.expires_at < `+db.d.placeholder(1)+`
			AND (u.lease_holder IS NULL OR u.lease_expires <= `+db.d.placeholder(1)+`)
		ORDER BY u.expires_at LIMIT `+db.d.placeholder(2),
		db.d.timeArg(now), limit)
	if err != nil {
		return nil, fmt.Errorf("store: expired uploads: %w", translate(ctx, err))
	}
	ups := make([]resources.Upload, 0, len(rows))
	for _, row := range rows {
		u, err := row.upload()
		if err != nil {
			return nil, fmt.Errorf("store: expired uploads: %w", err)
		}
		ups = append(ups, u)
	}
	return ups, nil
}

// UploadOf returns the upload id of whichever account, for garbage
// collection, which sees ids without their accounts. It returns an error
// matching resources.ErrNotFound when there is none.
func (db *DB) UploadOf(ctx context.Context, id string) (resources.Upload, error) {
	if !resources.ValidID(id) {
		return resources.Upload{}, fmt.Errorf("store: upload of id: %w", errNoUpload)
	}
	return db.oneUpload(ctx, "upload of id", id, `u.id = `+db.d.placeholder(1), id)
}

// PathTaken reports whether the account has a resource named name in
// dir.
func (db *DB) PathTaken(ctx context.Context, accountID, dir, name string) (bool, error) {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	var n int
	err := db.write.GetContext(tctx, &n, db.write.Rebind(`SELECT COUNT(*) FROM resources
		WHERE account_id = ? AND directory_path = ? AND name = ?`), accountID, dir, name)
	if err != nil {
		return false, fmt.Errorf("store: is %s/%s taken: %w", dir, name, translate(ctx, err))
	}
	return n > 0, nil
}

// LockUpload takes the lease of the account's upload id for holder until
// until, if nobody holds it at now; otherwise it asks the holder to let go
// (lease_wanted) and reports false. It returns an error matching
// resources.ErrNotFound when the account has no such upload.
func (db *DB) LockUpload(ctx context.Context, accountID, id, holder string, now, until time.Time) (bool, error) {
	if !resources.ValidID(id) {
		return false, fmt.Errorf("store: lock upload: %w", errNoUpload)
	}
	n, err := db.execCount(ctx, `UPDATE uploads SET lease_holder = ?, lease_expires = ?, lease_wanted = false
		WHERE account_id = ? AND id = ? AND (lease_holder IS NULL OR lease_expires <= ?)`,
		holder, db.d.timeArg(until), accountID, id, db.d.timeArg(now))
	if err != nil {
		return false, fmt.Errorf("store: lock upload %s: %w", id, err)
	}
	if n == 1 {
		return true, nil
	}
	n, err = db.execCount(ctx, `UPDATE uploads SET lease_wanted = true WHERE account_id = ? AND id = ?`, accountID, id)
	if err == nil && n == 0 {
		err = errNoUpload
	}
	if err != nil {
		return false, fmt.Errorf("store: lock upload %s: %w", id, err)
	}
	return false, nil
}

// RenewUploadLock extends holder's lease of the account's upload id to
// until and reports whether another request waits for it. It returns an
// error matching resources.ErrConflict when holder no longer holds it.
func (db *DB) RenewUploadLock(ctx context.Context, accountID, id, holder string, until time.Time) (wanted bool, err error) {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	err = db.write.GetContext(tctx, &wanted, db.write.Rebind(`UPDATE uploads SET lease_expires = ?
		WHERE account_id = ? AND id = ? AND lease_holder = ? RETURNING lease_wanted`),
		db.d.timeArg(until), accountID, id, holder)
	if errors.Is(err, sql.ErrNoRows) {
		err = &resources.Error{Kind: resources.ErrConflict, Reason: "the upload's lock was lost"}
	}
	if err != nil {
		return false, fmt.Errorf("store: renew lock of upload %s: %w", id, translate(ctx, err))
	}
	return wanted, nil
}

// UnlockUpload gives up holder's lease of the account's upload id, if it
// still holds it.
func (db *DB) UnlockUpload(ctx context.Context, accountID, id, holder string) error {
	_, err := db.execCount(ctx, `UPDATE uploads SET lease_holder = NULL, lease_expires = NULL
		WHERE account_id = ? AND id = ? AND lease_holder = ?`, accountID, id, holder)
	if err != nil {
		return fmt.Errorf("store: unlock upload %s: %w", id, err)
	}
	return nil
}

// execCount runs query (with ? placeholders) on the write pool under the
// statement timeout and returns how many rows it changed.
func (db *DB) execCount(ctx context.Context, query string, args ...any) (int64, error) {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	res, err := db.write.ExecContext(tctx, db.write.Rebind(query), args...)
	if err != nil {
		return 0, translate(ctx, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, translate(ctx, err)
	}
	return n, nil
}
