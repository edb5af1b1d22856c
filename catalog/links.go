package catalog

import (
	"context"
	"fmt"
	"mime"
	"time"

	"github.com/google/uuid"

	"github.com/re-factor/resources"
)

// A download link is one more way out of a resource's life, an upload
// link one more way in (create.go, NewLinkDraft). Every check of a link
// runs in the database on every use (expiry against the service's clock,
// the count by a conditional UPDATE, revocation by the row being gone), so
// a revocation holds on every replica as soon as it commits.

// errNoLink is what a token that finds no live link gets, whatever the
// reason: unknown, expired, used up or revoked look the same.
var errNoLink = &resources.Error{Kind: resources.ErrNotFound, Reason: "link not found"}

// MaxPresignTTL is the longest a signed storage URL lives (and the
// default of Config.PresignTTL).
const MaxPresignTTL = time.Minute

// CreateDownloadLink makes a link to the account's resource id, created by
// by ("" for none), and returns it with its token, which nothing keeps: the
// caller must hand it on now. It returns an error matching
// resources.ErrNotFound when the account has no such resource.
func (s *Service) CreateDownloadLink(ctx context.Context, account, id, by string, spec resources.DownloadLinkSpec) (resources.DownloadLink, string, error) {
	spec, err := spec.Normalize()
	if err != nil {
		return resources.DownloadLink{}, "", err
	}
	now := resources.Timestamp(s.now())
	l := resources.DownloadLink{ID: uuid.NewString(), AccountID: account, ResourceID: id,
		Disposition: spec.Disposition, MaxDownloads: spec.MaxDownloads, CreatedBy: optional(by),
		CreatedAt: now, ExpiresAt: now.Add(spec.ExpiresIn)}
	return issue(ctx, l, DownloadTokenPrefix, s.db.CreateDownloadLink)
}

// DownloadLinks returns the live links to the account's resource id, newest
// first. It returns an error matching resources.ErrNotFound when the
// account has no such resource.
func (s *Service) DownloadLinks(ctx context.Context, account, id string) ([]resources.DownloadLink, error) {
	return s.db.DownloadLinks(ctx, account, id, s.now())
}

// RevokeDownloadLink revokes the account's link linkID to resource id. It
// returns an error matching resources.ErrNotFound when there is none.
func (s *Service) RevokeDownloadLink(ctx context.Context, account, id, linkID string) error {
	return s.db.DeleteDownloadLink(ctx, account, id, linkID)
}

// OpenDownloadLink returns the live download link whose token is token, its
// resource and a reader of the resource's bytes, which opens nothing until
// read (see Content). It takes no use: SpendDownload does, once the caller
// knows it will send bytes. A token that finds no live link is an error
// matching resources.ErrNotFound.
func (s *Service) OpenDownloadLink(ctx context.Context, token string) (resources.DownloadLink, resources.Resource, *Content, error) {
	hash := tokenHash(DownloadTokenPrefix, token)
	if hash == nil {
		return resources.DownloadLink{}, resources.Resource{}, nil, errNoLink
	}
	l, r, err := s.db.OpenDownloadLink(ctx, hash, s.now())
	if err != nil {
		return resources.DownloadLink{}, resources.Resource{}, nil, err
	}
	c, err := s.content(ctx, r)
	if err != nil {
		return resources.DownloadLink{}, resources.Resource{}, nil, err
	}
	return l, r, c, nil
}

// SpendDownload takes one use of l. It returns an error matching
// resources.ErrNotFound when l has none left, has expired or is gone.
func (s *Service) SpendDownload(ctx context.Context, l resources.DownloadLink) error {
	_, err := s.db.SpendDownload(ctx, l.AccountID, l.ID, s.now())
	return err
}

// CanPresign returns nil when the bucket can sign URLs for PresignDownload,
// else an error saying it cannot.
func (s *Service) CanPresign(ctx context.Context) error { return s.blobs.CanSign(ctx) }

// PresignDownload returns a storage URL that reads r's bytes, served with
// l's disposition, for the service's PresignTTL (at most a minute). It
// takes no use of l: SpendDownload does.
func (s *Service) PresignDownload(ctx context.Context, l resources.DownloadLink, r resources.Resource) (string, error) {
	disposition := mime.FormatMediaType(l.Disposition, map[string]string{"filename": r.Name})
	u, err := s.blobs.SignedURL(ctx, r.StorageKey, s.presignTTL, r.MimeType, disposition)
	return u, s.bytesError(err)
}

// CreateUploadLink makes an upload link of the account, created by by ("" for
// none), and returns it with its token, which nothing keeps.
func (s *Service) CreateUploadLink(ctx context.Context, account, by string, spec resources.UploadLinkSpec) (resources.UploadLink, string, error) {
	spec, err := spec.Normalize(s.maxContent)
	if err != nil {
		return resources.UploadLink{}, "", err
	}
	now := resources.Timestamp(s.now())
	l := resources.UploadLink{ID: uuid.NewString(), AccountID: account, DirectoryPath: spec.DirectoryPath,
		AllowSubdirectories: spec.AllowSubdirectories, MaxBytes: spec.MaxBytes, MimeTypes: spec.MimeTypes,
		MaxUploads: spec.MaxUploads, Tags: spec.Tags, CreatedBy: optional(by),
		CreatedAt: now, ExpiresAt: now.Add(spec.ExpiresIn)}
	return issue(ctx, l, UploadTokenPrefix, s.db.CreateUploadLink)
}

// UploadLinks returns the account's live upload links, newest first (the
// 1,000 newest).
func (s *Service) UploadLinks(ctx context.Context, account string) ([]resources.UploadLink, error) {
	return s.db.UploadLinks(ctx, account, s.now())
}

// RevokeUploadLink revokes the account's upload link id. It returns an
// error matching resources.ErrNotFound when there is none.
func (s *Service) RevokeUploadLink(ctx context.Context, account, id string) error {
	return s.db.DeleteUploadLink(ctx, account, id)
}

// FindUploadLink returns the live upload link whose token is token, with a
// use left. It writes nothing. A token that finds no such link is an error
// matching resources.ErrNotFound.
func (s *Service) FindUploadLink(ctx context.Context, token string) (resources.UploadLink, error) {
	hash := tokenHash(UploadTokenPrefix, token)
	if hash == nil {
		return resources.UploadLink{}, errNoLink
	}
	return s.db.FindUploadLink(ctx, hash, s.now())
}

// FindUploadLinkInUse returns the unexpired upload link whose token is
// token, whether or not it has a use left: what the requests that go on
// with a resumable upload, which took its use at creation, are
// authenticated by. It writes nothing. A token that finds no such link is
// an error matching resources.ErrNotFound.
func (s *Service) FindUploadLinkInUse(ctx context.Context, token string) (resources.UploadLink, error) {
	hash := tokenHash(UploadTokenPrefix, token)
	if hash == nil {
		return resources.UploadLink{}, errNoLink
	}
	return s.db.FindUploadLinkInUse(ctx, hash, s.now())
}

// ReserveUpload checks an upload by the holder of l against l's rules
// (into dir, of mediaType, "" when unknown, and size bytes, -1 when
// unknown) and takes one of l's uses for it, before any of its bytes are
// taken. The caller must give the use back with ReleaseUpload when the
// upload does not become a resource. It returns an ErrInvalid or
// ErrTooLarge *resources.Error for a rule broken (an unknown media type
// breaks a link's mime_types), and an error matching resources.ErrNotFound
// when l has no use left, has expired or is gone.
//
// It is for uploads that state what they are before their bytes (a tus
// upload's creation); a create through NewLinkDraft takes its use itself.
func (s *Service) ReserveUpload(ctx context.Context, l resources.UploadLink, dir, mediaType string, size int64) error {
	if err := l.CheckType(mediaType); err != nil {
		return err
	}
	if err := l.CheckSize(size); err != nil {
		return err
	}
	return s.reserve(ctx, l, dir)
}

// reserve takes one of l's uses for an upload into dir, once dir is
// checked.
func (s *Service) reserve(ctx context.Context, l resources.UploadLink, dir string) error {
	if err := resources.ValidateDirectoryPath(dir); err != nil {
		return err
	}
	if err := l.CheckPath(dir); err != nil {
		return err
	}
	return s.db.ReserveUpload(ctx, l.AccountID, l.ID, s.now())
}

// ReleaseUpload gives back the use ReserveUpload took for an upload that
// failed. A failure is logged: it costs the holder one use, nothing more.
func (s *Service) ReleaseUpload(ctx context.Context, l resources.UploadLink) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.db.ReleaseUpload(ctx, l.AccountID, l.ID); err != nil {
		s.log.WarnContext(ctx, "upload link use not given back", "link_id", l.ID, "error", err.Error())
	}
}

// RevokeLinks revokes every link, download and upload, of the account (of
// every account when account is "") and returns how many.
func (s *Service) RevokeLinks(ctx context.Context, account string) (int64, error) {
	return s.db.DeleteLinks(ctx, account)
}

// PurgeLinks removes the rows of links that expired before cutoff or were
// used up, which answer like links that never existed, and returns how
// many.
func (s *Service) PurgeLinks(ctx context.Context, cutoff time.Time) (int64, error) {
	return s.db.PurgeLinks(ctx, cutoff)
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// content returns a reader of r's bytes, or ErrNotFound when they are
// outside this server's bucket.
func (s *Service) content(ctx context.Context, r resources.Resource) (*Content, error) {
	if !s.ours(r) {
		return nil, &resources.Error{Kind: resources.ErrNotFound, Reason: "resource not found",
			Err: fmt.Errorf("the bytes of resource %s are in bucket %q, which this server does not serve", r.ID, r.StorageBucket)}
	}
	return &Content{ctx: ctx, s: s, key: r.StorageKey, size: r.SizeBytes}, nil
}
