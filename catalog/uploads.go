package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"path"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/blobstore"
)

// A resumable upload (tus) is one more way into a resource's life. Its
// fields are checked as a create's are, before any byte; its bytes go to
// a partial object (blobstore) over any number of requests to any
// replica, each request holding the upload's lease (a row, so every
// replica sees it); and the last byte makes it the resource whose id is
// its own, through the same Draft.Create a JSON create ends in. The
// upload's row outlives it until its expiry, so its URL can say it is
// done.

const (
	// DefaultMaxUploadBytes is MaxUploadBytes when unset: 10 GiB.
	DefaultMaxUploadBytes = 10 << 30
	// DefaultMaxOpenUploads is MaxOpenUploads when unset.
	DefaultMaxOpenUploads = 100
	// DefaultUploadExpiry is UploadExpiry when unset.
	DefaultUploadExpiry = 24 * time.Hour
)

// UploadSpec is what a resumable upload is created with.
type UploadSpec struct {
	Fields resources.Fields
	// MimeType is the media type of the bytes, "" to sniff them.
	MimeType string
	// SHA256 is the hex SHA-256 the bytes must have, "" for no check.
	SHA256 string
	// Length is the number of bytes, -1 when the client declares it later.
	Length int64
}

// MaxUploadBytes is the most bytes a resumable upload may hold.
func (s *Service) MaxUploadBytes() int64 { return s.maxUpload }

// UploadExpiry is how long an unfinished upload lives.
func (s *Service) UploadExpiry() time.Duration { return s.uploadExpiry }

// CreateUpload starts a resumable upload of the account by subject ("" for
// none), through upload link link when not nil, and returns it. Every rule
// a create applies is checked first: the fields (ErrInvalid naming the
// field), the path (ErrConflict when the account has a resource there),
// the length (ErrTooLarge beyond MaxUploadBytes), the link's rules (and
// one of its uses taken), and the account's unfinished uploads
// (ErrTooMany beyond MaxOpenUploads).
func (s *Service) CreateUpload(ctx context.Context, account, subject string, link *resources.UploadLink, spec UploadSpec) (resources.Upload, error) {
	u, err := s.newUpload(account, subject, link, spec)
	if err != nil {
		return resources.Upload{}, err
	}
	if err := s.checkPath(ctx, u); err != nil {
		return resources.Upload{}, err
	}
	if link != nil {
		if err := s.ReserveUpload(ctx, *link, u.Fields.DirectoryPath, u.MimeType, u.Length); err != nil {
			return resources.Upload{}, err
		}
	}
	key := blobstore.Key(account, u.ID)
	st, err := s.blobs.StartPartial(ctx, key, u.ID, u.MimeType)
	if err == nil {
		u.State = st.Marshal()
		if err = s.db.CreateUpload(ctx, u, s.maxOpenUploads); err != nil {
			s.abortBytes(ctx, key, u.ID, st)
		}
	}
	if err != nil {
		if link != nil {
			s.ReleaseUpload(ctx, *link)
		}
		return resources.Upload{}, s.bytesError(err)
	}
	return u, nil
}

// newUpload checks spec and returns the upload it describes.
func (s *Service) newUpload(account, subject string, link *resources.UploadLink, spec UploadSpec) (resources.Upload, error) {
	f := spec.Fields
	if f.URI != nil {
		return resources.Upload{}, resources.Invalid("uri", "is not taken by a resumable upload: send the bytes")
	}
	if link != nil {
		f.Tags = append(append([]string(nil), f.Tags...), link.Tags...)
	}
	f, err := f.Normalize()
	if err != nil {
		return resources.Upload{}, err
	}
	if spec.MimeType != "" {
		if _, _, err := mime.ParseMediaType(spec.MimeType); err != nil || strings.ContainsAny(spec.MimeType, "\r\n") {
			return resources.Upload{}, resources.Invalid("mime_type", "must be a media type such as application/pdf")
		}
	}
	sum := strings.ToLower(spec.SHA256)
	if sum != "" && !isHexSHA256(sum) {
		return resources.Upload{}, resources.Invalid("sha256", "must be 64 hexadecimal digits")
	}
	if spec.Length > s.maxUpload {
		return resources.Upload{}, &resources.Error{Kind: resources.ErrTooLarge,
			Reason: fmt.Sprintf("Upload-Length %d is more than the %d bytes an upload may hold", spec.Length, s.maxUpload)}
	}
	now := resources.Timestamp(s.now())
	u := resources.Upload{ID: uuid.NewString(), AccountID: account, Fields: f, MimeType: spec.MimeType, SHA256: sum,
		CreatedBy: optional(subject), Length: spec.Length, CreatedAt: now, ExpiresAt: now.Add(s.uploadExpiry)}
	if link != nil {
		u.LinkID = link.ID
	}
	return u, nil
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// checkPath returns ErrConflict when the account has a resource where u
// would go.
func (s *Service) checkPath(ctx context.Context, u resources.Upload) error {
	taken, err := s.db.PathTaken(ctx, u.AccountID, u.Fields.DirectoryPath, u.Fields.Name)
	if err != nil {
		return err
	}
	if taken {
		return &resources.Error{Kind: resources.ErrConflict,
			Reason: fmt.Sprintf("%q already exists", path.Join(u.Fields.DirectoryPath, u.Fields.Name))}
	}
	return nil
}

// GetUpload returns the account's upload id. It returns an error matching
// resources.ErrNotFound when the account has none, and one matching
// resources.ErrGone when it is unfinished and past its expiry, though gc
// has yet to remove it: tus 1.0 lets a server answer 404 or 410 then, and
// 410 tells the client its upload existed and must start over, where 404
// could be a wrong URL.
func (s *Service) GetUpload(ctx context.Context, account, id string) (resources.Upload, error) {
	u, err := s.db.GetUpload(ctx, account, id)
	if err != nil {
		return resources.Upload{}, err
	}
	if !u.Done() && !s.now().Before(u.ExpiresAt) {
		return resources.Upload{}, &resources.Error{Kind: resources.ErrGone,
			Reason: fmt.Sprintf("the upload expired at %s, %s after its last stored byte: its bytes are removed; start a new upload",
				u.ExpiresAt.UTC().Format(time.RFC3339), s.uploadExpiry),
			Err: fmt.Errorf("upload %s expired at %s", id, u.ExpiresAt)}
	}
	return u, nil
}

// WriteUpload stores what r holds after the bytes of u, read by holder
// (who holds its lease) at u.Offset, up to its length (or, while that is
// not declared, MaxUploadBytes and the MaxBytes of link, the upload link
// of the request when not nil), and returns how many bytes it stored.
// Progress is kept every blobstore step (8 MiB), so a crash, or r failing,
// loses at most that much. It returns u as it now stands, with r's error
// if r failed. When the upload holds its declared length,
// CompleteUpload finishes it.
func (s *Service) WriteUpload(ctx context.Context, u resources.Upload, link *resources.UploadLink, holder string, r io.Reader) (resources.Upload, int64, error) {
	st, err := blobstore.ParsePartialState(u.State)
	if err != nil {
		return u, 0, err
	}
	limit := s.maxUpload - u.Offset
	if link != nil {
		limit = min(limit, link.MaxBytes-u.Offset)
	}
	if u.Length >= 0 {
		limit = u.Length - u.Offset
	}
	key := blobstore.Key(u.AccountID, u.ID)
	var total int64
	for total < limit {
		step := min(st.Step(), limit-total)
		next, n, rerr := s.blobs.AppendPartial(ctx, key, u.ID, st, r, step)
		if n > 0 {
			if err := s.saveProgress(ctx, &u, holder, st, next); err != nil {
				return u, total, err
			}
			st, total = next, total+n
		}
		if rerr != nil || n < step {
			return u, total, s.bytesError(rerr)
		}
	}
	return u, total, nil
}

// saveProgress records that u, in state old, is now in state next, and
// removes what only old needed. It also moves u's expiry to UploadExpiry
// from now: an upload that is moving is not abandoned, however slow its
// link (10 GiB at 2 Mbit/s takes half a day), and one that stops still goes
// UploadExpiry after its last byte. tusd's own stores keep the expiry of
// creation instead; tus lets it change, and the row is written at every
// step anyway, so extending it costs nothing.
func (s *Service) saveProgress(ctx context.Context, u *resources.Upload, holder string, old, next blobstore.PartialState) error {
	// The bytes are kept even when the request was cut short.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	state := next.Marshal()
	expires := s.now().Add(s.uploadExpiry)
	if err := s.db.SaveUploadProgress(ctx, u.AccountID, u.ID, holder, u.Offset, next.Size, state, expires); err != nil {
		return err
	}
	s.blobs.Settle(ctx, u.ID, old, next)
	u.Offset, u.State, u.ExpiresAt = next.Size, state, expires
	return nil
}

// DeclareUploadLength sets the length of u, declared after its creation
// (Upload-Defer-Length), within MaxUploadBytes and the MaxBytes of link,
// the upload link of the request when not nil.
func (s *Service) DeclareUploadLength(ctx context.Context, u resources.Upload, link *resources.UploadLink, length int64) error {
	if length > s.maxUpload {
		return &resources.Error{Kind: resources.ErrTooLarge,
			Reason: fmt.Sprintf("Upload-Length %d is more than the %d bytes an upload may hold", length, s.maxUpload)}
	}
	if link != nil {
		if err := link.CheckSize(length); err != nil {
			return err
		}
	}
	return s.db.DeclareUploadLength(ctx, u.AccountID, u.ID, length)
}

// CompleteUpload makes u, all of whose bytes are stored, the resource
// whose id is its own, through the create a JSON create ends in: the path
// is checked again (another resource may have taken it: ErrConflict), and
// a sha256 given at creation must be the bytes' (ErrInvalid). On failure
// the bytes are removed, the upload with them, and an upload link's use
// given back.
func (s *Service) CompleteUpload(ctx context.Context, u resources.Upload) (resources.Resource, error) {
	st, err := blobstore.ParsePartialState(u.State)
	if err != nil {
		return resources.Resource{}, err
	}
	key := blobstore.Key(u.AccountID, u.ID)
	// The lease is held: no other request finishes it meanwhile, and a
	// failure from here on is final, since nothing would be left to resume.
	w, err := s.blobs.FinishPartial(ctx, key, u.ID, st)
	if err != nil {
		return resources.Resource{}, s.bytesError(err)
	}
	d := &Draft{s: s, account: u.AccountID, id: u.ID, key: key, content: &content{Written: w, mediaType: u.MimeType}}
	if u.CreatedBy != nil {
		d.subject = *u.CreatedBy
	}
	r, err := s.completeDraft(ctx, d, u)
	if err != nil {
		d.Discard(ctx)
		s.dropUpload(ctx, u)
		return resources.Resource{}, err
	}
	if err := s.db.CompleteUpload(ctx, u.AccountID, u.ID, s.now()); err != nil {
		s.log.WarnContext(ctx, "upload row not marked complete; its resource exists", "id", u.ID, "error", err.Error())
	}
	return r, nil
}

func (s *Service) completeDraft(ctx context.Context, d *Draft, u resources.Upload) (resources.Resource, error) {
	if u.SHA256 != "" && u.SHA256 != d.content.SHA256 {
		return resources.Resource{}, resources.Invalid("sha256",
			"the bytes' SHA-256 is %s, not the %s given at creation: nothing was stored", d.content.SHA256, u.SHA256)
	}
	// The upload's fields are in normal form with the link's tags, checked
	// at creation; Create checks them again, and the path by its insert.
	return d.Create(ctx, u.Fields)
}

// TerminateUpload abandons the account's unfinished upload u: its bytes
// and row go, and an upload link's use comes back.
func (s *Service) TerminateUpload(ctx context.Context, u resources.Upload) error {
	if u.Done() {
		return &resources.Error{Kind: resources.ErrConflict, Reason: "the upload is finished: delete its resource instead"}
	}
	st, err := blobstore.ParsePartialState(u.State)
	if err != nil {
		return err
	}
	if err := s.db.DeleteUpload(ctx, u.AccountID, u.ID); err != nil {
		return err
	}
	s.abortBytes(ctx, blobstore.Key(u.AccountID, u.ID), u.ID, st)
	s.releaseLinkUse(ctx, u)
	return nil
}

// dropUpload removes the row of u, which failed, and gives back its link's
// use.
func (s *Service) dropUpload(ctx context.Context, u resources.Upload) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.db.DeleteUpload(ctx, u.AccountID, u.ID); err != nil && !errors.Is(err, resources.ErrNotFound) {
		s.log.WarnContext(ctx, "failed upload's row left for gc", "id", u.ID, "error", err.Error())
	}
	s.releaseLinkUse(ctx, u)
}

func (s *Service) releaseLinkUse(ctx context.Context, u resources.Upload) {
	if u.LinkID != "" {
		s.ReleaseUpload(ctx, resources.UploadLink{ID: u.LinkID, AccountID: u.AccountID})
	}
}

// abortBytes removes a partial object; a failure is logged and left to
// gc, which aborts multipart uploads no live upload holds.
func (s *Service) abortBytes(ctx context.Context, key, id string, st blobstore.PartialState) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.blobs.AbortPartial(ctx, key, id, st); err != nil {
		s.log.WarnContext(ctx, "upload's bytes left for refactor gc", "storage_key", key, "error", err.Error())
	}
}

// LockUpload takes the lease of the account's upload id for holder, for
// ttl. It reports false when another holds it, and asks that one to let
// go. It returns an error matching resources.ErrNotFound when the account
// has no such upload.
func (s *Service) LockUpload(ctx context.Context, account, id, holder string, ttl time.Duration) (bool, error) {
	now := s.now()
	return s.db.LockUpload(ctx, account, id, holder, now, now.Add(ttl))
}

// RenewUploadLock extends holder's lease by ttl and reports whether
// another request waits for it. It returns an error matching
// resources.ErrConflict when holder lost it.
func (s *Service) RenewUploadLock(ctx context.Context, account, id, holder string, ttl time.Duration) (bool, error) {
	return s.db.RenewUploadLock(ctx, account, id, holder, s.now().Add(ttl))
}

// UnlockUpload gives up holder's lease.
func (s *Service) UnlockUpload(ctx context.Context, account, id, holder string) error {
	return s.db.UnlockUpload(ctx, account, id, holder)
}

// CollectExpiredUploads removes the uploads that expired before now:
// an unfinished one's bytes (S3 multipart parts included) and its link's
// use; a finished one's row, which only told its URL it was done. It
// returns how many unfinished uploads it removed.
func (s *Service) CollectExpiredUploads(ctx context.Context) (int, error) {
	n := 0
	for {
		ups, err := s.db.ExpiredUploads(ctx, s.now(), 100)
		if err != nil || len(ups) == 0 {
			return n, err
		}
		for _, u := range ups {
			if u.Done() {
				if err := s.db.DeleteUpload(ctx, u.AccountID, u.ID); err != nil && !errors.Is(err, resources.ErrNotFound) {
					return n, err
				}
				continue
			}
			if err := s.TerminateUpload(ctx, u); err != nil && !errors.Is(err, resources.ErrNotFound) {
				return n, err
			}
			n++
		}
	}
}
