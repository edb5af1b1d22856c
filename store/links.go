package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/re-factor/resources"
)

// Links are found by the SHA-256 of their token, which their holder sends
// without an account. Every lookup reads the pool that sees each commit
// (the primary, never a replica that may lag a revocation), and a token no
// live link has costs that one indexed read and writes nothing. Uses are
// taken by one conditional UPDATE, so that concurrent requests can never
// take more than a link's limit.

// errNoLink is the cause of every link the store does not find live:
// unknown, revoked, expired and used up are one answer, so that a link
// cannot be probed.
var errNoLink = &resources.Error{Kind: resources.ErrNotFound, Reason: "link not found"}

// CreateDownloadLink stores l, whose token hashes to tokenHash. It returns
// an error matching resources.ErrNotFound when the account has no resource
// l.ResourceID.
func (db *DB) CreateDownloadLink(ctx context.Context, l resources.DownloadLink, tokenHash []byte) error {
	if !resources.ValidID(l.ResourceID) {
		return fmt.Errorf("store: create download link: %w", notFound(fmt.Errorf("%q is no resource id", l.ResourceID)))
	}
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	_, err := db.write.ExecContext(tctx, db.write.Rebind(`INSERT INTO download_links
		(account_id, id, resource_id, token_hash, disposition, max_downloads, created_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		l.AccountID, l.ID, l.ResourceID, tokenHash, l.Disposition, l.MaxDownloads, optionalText{l.CreatedBy},
		db.d.timeArg(l.CreatedAt), db.d.timeArg(l.ExpiresAt))
	switch {
	case err == nil:
		return nil
	case isForeignKeyViolation(err):
		return fmt.Errorf("store: create download link: %w", notFound(err))
	}
	return fmt.Errorf("store: create download link: %w", translate(ctx, err))
}

// downloadLinkColumns are a download link's columns, aliased l, named as
// downloadLinkRow scans them.
func downloadLinkColumns(d dialect) string {
	return `l.id AS link_id, l.resource_id AS link_resource_id, l.disposition AS link_disposition,
		l.max_downloads AS link_max_downloads, l.downloads AS link_downloads, l.created_by AS link_created_by, ` +
		d.unixMicros("l.created_at") + ` AS link_created_at, ` + d.unixMicros("l.expires_at") + ` AS link_expires_at`
}

type downloadLinkRow struct {
	ID           string        `db:"link_id"`
	ResourceID   string        `db:"link_resource_id"`
	Disposition  string        `db:"link_disposition"`
	MaxDownloads sql.NullInt64 `db:"link_max_downloads"`
	Downloads    int64         `db:"link_downloads"`
	CreatedBy    optionalText  `db:"link_created_by"`
	CreatedAt    timestamp     `db:"link_created_at"`
	ExpiresAt    timestamp     `db:"link_expires_at"`
}

func (row downloadLinkRow) link(account string) resources.DownloadLink {
	return resources.DownloadLink{ID: row.ID, AccountID: account, ResourceID: row.ResourceID,
		Disposition: row.Disposition, MaxDownloads: nullableInt(row.MaxDownloads), Downloads: row.Downloads,
		CreatedBy: row.CreatedBy.s, CreatedAt: row.CreatedAt.t, ExpiresAt: row.ExpiresAt.t}
}

// liveDownload is the condition that the download link aliased l may
// still be used at the time bound to placeholder now.
const liveDownload = `l.expires_at > %[1]s AND (l.max_downloads IS NULL OR l.downloads < l.max_downloads)`

// DownloadLinks returns the links of the account's resource that are live
// at now, newest first. It returns an error matching resources.ErrNotFound
// when the account has no such resource.
func (db *DB) DownloadLinks(ctx context.Context, accountID, resourceID string, now time.Time) ([]resources.DownloadLink, error) {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	if _, err := db.getResource(tctx, nil, accountID, resourceID); err != nil {
		return nil, fmt.Errorf("store: download links of %s: %w", resourceID, translate(ctx, err))
	}
	rows, err := db.read.QueryxContext(tctx, `SELECT `+downloadLinkColumns(db.d)+` FROM download_links l
		WHERE l.account_id = `+db.d.placeholder(1)+` AND l.resource_id = `+db.d.placeholder(2)+
		` AND `+fmt.Sprintf(liveDownload, db.d.placeholder(3))+` ORDER BY l.created_at DESC, l.id DESC`,
		accountID, resourceID, db.d.timeArg(now))
	if err != nil {
		return nil, fmt.Errorf("store: download links of %s: %w", resourceID, translate(ctx, err))
	}
	defer rows.Close()
	links := []resources.DownloadLink{}
	for rows.Next() {
		var row downloadLinkRow
		if err := rows.StructScan(&row); err != nil {
			return nil, fmt.Errorf("store: download links of %s: %w", resourceID, err)
		}
		links = append(links, row.link(accountID))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: download links of %s: %w", resourceID, translate(ctx, err))
	}
	return links, nil
}

// DeleteDownloadLink removes the account's link id to resourceID. It
// returns an error matching resources.ErrNotFound when there is none.
func (db *DB) DeleteDownloadLink(ctx context.Context, accountID, resourceID, id string) error {
	return db.deleteLink(ctx, `DELETE FROM download_links WHERE account_id = ? AND resource_id = ? AND id = ?`,
		id, accountID, resourceID, id)
}

// OpenDownloadLink returns the download link whose token hashes to
// tokenHash, if it is live at now, and its resource, in one read. Every
// other case (no such link, expired, used up, revoked, its resource
// deleted) is an error matching resources.ErrNotFound.
func (db *DB) OpenDownloadLink(ctx context.Context, tokenHash []byte, now time.Time) (resources.DownloadLink, resources.Resource, error) {
	var row struct {
		resourceRow
		downloadLinkRow
		TokenHash []byte `db:"link_token_hash"`
	}
	err := db.findLink(ctx, &row, &row.TokenHash, `SELECT `+db.columns+`, `+downloadLinkColumns(db.d)+`, l.token_hash AS link_token_hash
		FROM download_links l JOIN resources r ON r.account_id = l.account_id AND r.id = l.resource_id
		WHERE l.token_hash = `+db.d.placeholder(1)+` AND `+fmt.Sprintf(liveDownload, db.d.placeholder(2)),
		tokenHash, now)
	if err != nil {
		return resources.DownloadLink{}, resources.Resource{}, fmt.Errorf("store: open download link: %w", translate(ctx, err))
	}
	r := row.resource()
	return row.link(r.AccountID), r, nil
}

// SpendDownload counts one download of the account's link id, if the link
// is live at now, and returns the downloads counted so far. It returns an
// error matching resources.ErrNotFound when the link is not live: used up
// by the requests before, expired, or gone.
func (db *DB) SpendDownload(ctx context.Context, accountID, id string, now time.Time) (int64, error) {
	n, err := db.takeUse(ctx, `UPDATE download_links AS l SET downloads = downloads + 1
		WHERE account_id = ? AND id = ? AND `+fmt.Sprintf(liveDownload, "?")+` RETURNING downloads`,
		accountID, id, db.d.timeArg(now))
	if err != nil {
		return 0, fmt.Errorf("store: spend download of link %s: %w", id, err)
	}
	return n, nil
}

// CreateUploadLink stores l, whose token hashes to tokenHash.
func (db *DB) CreateUploadLink(ctx context.Context, l resources.UploadLink, tokenHash []byte) error {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	_, err := db.write.ExecContext(tctx, db.write.Rebind(`INSERT INTO upload_links
		(account_id, id, token_hash, directory_path, allow_subdirectories, max_bytes, mime_types, max_uploads, tags,
		 created_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		l.AccountID, l.ID, tokenHash, l.DirectoryPath, l.AllowSubdirectories, l.MaxBytes, stringList(l.MimeTypes),
		l.MaxUploads, stringList(l.Tags), optionalText{l.CreatedBy}, db.d.timeArg(l.CreatedAt), db.d.timeArg(l.ExpiresAt))
	if err != nil {
		return fmt.Errorf("store: create upload link: %w", translate(ctx, err))
	}
	return nil
}

// uploadLinkColumns are an upload link's columns, aliased l, as
// uploadLinkRow scans them.
func uploadLinkColumns(d dialect) string {
	return `l.account_id, l.id, l.directory_path, l.allow_subdirectories, l.max_bytes, l.mime_types, l.max_uploads,
		l.uploads, l.tags, l.created_by, ` + d.unixMicros("l.created_at") + ` AS created_at, ` +
		d.unixMicros("l.expires_at") + ` AS expires_at`
}

type uploadLinkRow struct {
	AccountID           string        `db:"account_id"`
	ID                  string        `db:"id"`
	DirectoryPath       string        `db:"directory_path"`
	AllowSubdirectories bool          `db:"allow_subdirectories"`
	MaxBytes            int64         `db:"max_bytes"`
	MimeTypes           stringList    `db:"mime_types"`
	MaxUploads          sql.NullInt64 `db:"max_uploads"`
	Uploads             int64         `db:"uploads"`
	Tags                stringList    `db:"tags"`
	CreatedBy           optionalText  `db:"created_by"`
	CreatedAt           timestamp     `db:"created_at"`
	ExpiresAt           timestamp     `db:"expires_at"`
}

func (row uploadLinkRow) link() resources.UploadLink {
	return resources.UploadLink{ID: row.ID, AccountID: row.AccountID, DirectoryPath: row.DirectoryPath,
		AllowSubdirectories: row.AllowSubdirectories, MaxBytes: row.MaxBytes, MimeTypes: row.MimeTypes,
		MaxUploads: nullableInt(row.MaxUploads), Uploads: row.Uploads, Tags: row.Tags, CreatedBy: row.CreatedBy.s,
		CreatedAt: row.CreatedAt.t, ExpiresAt: row.ExpiresAt.t}
}

// liveUpload is the condition that the upload link aliased l may take
// another use at the time bound to placeholder now.
const liveUpload = `l.expires_at > %[1]s AND (l.max_uploads IS NULL OR l.uploads < l.max_uploads)`

// maxListedLinks bounds a list of links: the newest this many.
const maxListedLinks = 1000

// UploadLinks returns the account's upload links that are live at now,
// newest first, at most the 1,000 newest.
func (db *DB) UploadLinks(ctx context.Context, accountID string, now time.Time) ([]resources.UploadLink, error) {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	rows, err := db.read.QueryxContext(tctx, `SELECT `+uploadLinkColumns(db.d)+` FROM upload_links l
		WHERE l.account_id = `+db.d.placeholder(1)+` AND `+fmt.Sprintf(liveUpload, db.d.placeholder(2))+`
		ORDER BY l.created_at DESC, l.id DESC LIMIT `+fmt.Sprint(maxListedLinks), accountID, db.d.timeArg(now))
	if err != nil {
		return nil, fmt.Errorf("store: upload links: %w", translate(ctx, err))
	}
	defer rows.Close()
	links := []resources.UploadLink{}
	for rows.Next() {
		var row uploadLinkRow
		if err := rows.StructScan(&row); err != nil {
			return nil, fmt.Errorf("store: upload links: %w", err)
		}
		links = append(links, row.link())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: upload links: %w", translate(ctx, err))
	}
	return links, nil
}

// DeleteUploadLink removes the account's upload link id. It returns an
// error matching resources.ErrNotFound when there is none.
func (db *DB) DeleteUploadLink(ctx context.Context, accountID, id string) error {
	return db.deleteLink(ctx, `DELETE FROM upload_links WHERE account_id = ? AND id = ?`, id, accountID, id)
}

// FindUploadLink returns the upload link whose token hashes to tokenHash
// if it is live at now, with a use left; every other case is an error
// matching resources.ErrNotFound.
func (db *DB) FindUploadLink(ctx context.Context, tokenHash []byte, now time.Time) (resources.UploadLink, error) {
	return db.findUploadLink(ctx, "find upload link", fmt.Sprintf(liveUpload, db.d.placeholder(2)), tokenHash, now)
}

// FindUploadLinkInUse returns the upload link whose token hashes to
// tokenHash if it has not expired at now, whether or not a use is left:
// the link of an upload that took its use and goes on. Every other case
// is an error matching resources.ErrNotFound.
func (db *DB) FindUploadLinkInUse(ctx context.Context, tokenHash []byte, now time.Time) (resources.UploadLink, error) {
	return db.findUploadLink(ctx, "find upload link in use", `l.expires_at > `+db.d.placeholder(2), tokenHash, now)
}

// findUploadLink returns the upload link whose token hashes to tokenHash
// and that meets cond, a condition on l in which placeholder 2 is now; op
// names the search in its error.
func (db *DB) findUploadLink(ctx context.Context, op, cond string, tokenHash []byte, now time.Time) (resources.UploadLink, error) {
	var row struct {
		uploadLinkRow
		TokenHash []byte `db:"token_hash"`
	}
	err := db.findLink(ctx, &row, &row.TokenHash, `SELECT `+uploadLinkColumns(db.d)+`, l.token_hash FROM upload_links l
		WHERE l.token_hash = `+db.d.placeholder(1)+` AND `+cond, tokenHash, now)
	if err != nil {
		return resources.UploadLink{}, fmt.Errorf("store: %s: %w", op, translate(ctx, err))
	}
	return row.link(), nil
}

// ReserveUpload takes one use of the account's upload link id, if it is
// live at now with a use left. It returns an error matching
// resources.ErrNotFound when it is not.
func (db *DB) ReserveUpload(ctx context.Context, accountID, id string, now time.Time) error {
	_, err := db.takeUse(ctx, `UPDATE upload_links AS l SET uploads = uploads + 1
		WHERE account_id = ? AND id = ? AND `+fmt.Sprintf(liveUpload, "?")+` RETURNING uploads`,
		accountID, id, db.d.timeArg(now))
	if err != nil {
		return fmt.Errorf("store: reserve upload of link %s: %w", id, err)
	}
	return nil
}

// ReleaseUpload gives back a use ReserveUpload took for an upload that
// failed. A link revoked meanwhile has nothing to give back to.
func (db *DB) ReleaseUpload(ctx context.Context, accountID, id string) error {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	_, err := db.write.ExecContext(tctx, db.write.Rebind(`UPDATE upload_links SET uploads = uploads - 1
		WHERE account_id = ? AND id = ? AND uploads > 0`), accountID, id)
	if err != nil {
		return fmt.Errorf("store: release upload of link %s: %w", id, translate(ctx, err))
	}
	return nil
}

// DeleteLinks removes every link of the account, of every account when
// accountID is "", and returns how many it removed.
func (db *DB) DeleteLinks(ctx context.Context, accountID string) (int64, error) {
	if accountID == "" {
		return db.deleteLinks(ctx, "1 = 1", "1 = 1")
	}
	return db.deleteLinks(ctx, "account_id = ?", "account_id = ?", accountID)
}

// PurgeLinks removes the links that expired before cutoff or were used up,
// which no request can use again, and returns how many it removed.
func (db *DB) PurgeLinks(ctx context.Context, cutoff time.Time) (int64, error) {
	return db.deleteLinks(ctx, "expires_at < ? OR downloads >= max_downloads",
		"expires_at < ? OR uploads >= max_uploads", db.d.timeArg(cutoff))
}

// deleteLinks removes the download links matching downloads and the upload
// links matching uploads, two conditions taking the same args, and returns
// how many it removed.
func (db *DB) deleteLinks(ctx context.Context, downloads, uploads string, args ...any) (int64, error) {
	var total int64
	for table, where := range map[string]string{"download_links": downloads, "upload_links": uploads} {
		tctx, cancel := db.withTimeout(ctx)
		res, err := db.write.ExecContext(tctx, db.write.Rebind(`DELETE FROM `+table+` WHERE `+where), args...)
		cancel()
		if err != nil {
			return total, fmt.Errorf("store: delete %s: %w", table, translate(ctx, err))
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("store: delete %s: %w", table, err)
		}
		total += n
	}
	return total, nil
}

// findLink scans the one row query finds into dest, binding tokenHash and
// now, through the pool that sees every commit; stored is dest's field of
// the row's token hash, which must then equal tokenHash, compared in
// constant time. No row, or another hash, is errNoLink.
func (db *DB) findLink(ctx context.Context, dest any, stored *[]byte, query string, tokenHash []byte, now time.Time) error {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	err := db.currentStmts.get(tctx, dest, query, tokenHash, db.d.timeArg(now))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && subtle.ConstantTimeCompare(*stored, tokenHash) != 1) {
		return errNoLink
	}
	return err
}

// takeUse runs query, a conditional UPDATE … RETURNING the new count, and
// returns that count; no row is errNoLink.
func (db *DB) takeUse(ctx context.Context, query string, args ...any) (int64, error) {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	var n int64
	err := db.write.QueryRowxContext(tctx, db.write.Rebind(query), args...).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errNoLink
	}
	return n, translate(ctx, err)
}

// deleteLink runs query, a DELETE of one link, with args; no row is
// errNoLink.
func (db *DB) deleteLink(ctx context.Context, query, id string, args ...any) error {
	if !resources.ValidID(id) {
		return fmt.Errorf("store: delete link: %q is no link id: %w", id, errNoLink)
	}
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	res, err := db.write.ExecContext(tctx, db.write.Rebind(query), args...)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = errNoLink
		}
	}
	if err != nil {
		return fmt.Errorf("store: delete link %s: %w", id, translate(ctx, err))
	}
	return nil
}

func nullableInt(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	return &n.Int64
}

// stringList is a list of strings held as a JSON array: jsonb on
// PostgreSQL, text on SQLite.
type stringList []string

func (l *stringList) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("cannot scan %T into a list", src)
	}
	*l = []string{}
	return json.Unmarshal(b, (*[]string)(l))
}

func (l stringList) Value() (driver.Value, error) {
	if l == nil {
		return "[]", nil
	}
	b, err := json.Marshal([]string(l))
	return string(b), err
}
