// Package catalog owns the life of a resource: its bytes in the blob store
// and its row in the database, and the order that keeps the two together.
// Every way into or out of that life is a method of Service: create, get,
// list, update, delete, download, import, export and garbage collection,
// and the links that let someone without a token download a resource or
// create one (links.go).
// The bytes are written before the row and removed again when the row
// cannot be written; a delete removes the row, then the bytes; only the
// bytes in this server's bucket are ever read or removed. A crash between
// two steps leaves only bytes no row references, which CollectGarbage
// removes.
package catalog

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/urlfetch"
)

// DefaultMaxContentBytes is MaxContentBytes when unset: 25 MiB.
const DefaultMaxContentBytes = 25 << 20

// Config holds what a Service depends on.
type Config struct {
	DB      *store.DB
	Blobs   *blobstore.Store
	Fetcher *urlfetch.Fetcher
	Logger  *slog.Logger
	// MaxContentBytes caps a resource's bytes; default DefaultMaxContentBytes.
	MaxContentBytes int64
	// Now is the clock for created_at and updated_at, and for links'
	// expiry; default time.Now.
	Now func() time.Time
	// PresignTTL is how long a signed storage URL for a download link
	// lives; default and most MaxPresignTTL.
	PresignTTL time.Duration
	// MaxUploadBytes caps a resumable upload (uploads.go); default
	// DefaultMaxUploadBytes.
	MaxUploadBytes int64
	// MaxOpenUploads caps an account's unfinished resumable uploads;
	// default DefaultMaxOpenUploads.
	MaxOpenUploads int
	// UploadExpiry is how long an unfinished resumable upload lives;
	// default DefaultUploadExpiry.
	UploadExpiry time.Duration
}

// Service carries out the operations on resources.
type Service struct {
	db         *store.DB
	blobs      *blobstore.Store
	fetcher    *urlfetch.Fetcher
	log        *slog.Logger
	maxContent int64
	now        func() time.Time
	presignTTL time.Duration

	maxUpload      int64
	maxOpenUploads int
	uploadExpiry   time.Duration
	feed           *feed // the watches of the change feed (events.go)
}

// New returns a Service over cfg's database, storage and fetcher.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Blobs == nil || cfg.Fetcher == nil {
		return nil, errors.New("resources: Config needs DB, Blobs and Fetcher")
	}
	s := &Service{db: cfg.DB, blobs: cfg.Blobs, fetcher: cfg.Fetcher, log: cmp.Or(cfg.Logger, slog.Default()),
		maxContent: cmp.Or(cfg.MaxContentBytes, DefaultMaxContentBytes), now: cfg.Now,
		presignTTL: min(cmp.Or(cfg.PresignTTL, MaxPresignTTL), MaxPresignTTL),
		maxUpload:  cmp.Or(cfg.MaxUploadBytes, DefaultMaxUploadBytes), maxOpenUploads: cmp.Or(cfg.MaxOpenUploads, DefaultMaxOpenUploads),
		uploadExpiry: cmp.Or(cfg.UploadExpiry, DefaultUploadExpiry)}
	if s.now == nil {
		s.now = time.Now
	}
	s.feed = newFeed()
	s.db.OnEvents(s.feed.wake)
	return s, nil
}

// MaxContentBytes is the most bytes a resource may hold.
func (s *Service) MaxContentBytes() int64 { return s.maxContent }

// Ready reports whether the service can serve: the database answers, and
// then the storage. The error's Reason says which did not: "database
// unavailable" or "storage unavailable".
func (s *Service) Ready(ctx context.Context) error {
	if err := s.db.Ping(ctx); err != nil {
		return &resources.Error{Kind: resources.ErrUnavailable, Reason: "database unavailable", Err: err}
	}
	if err := s.blobs.Ping(ctx); err != nil {
		return &resources.Error{Kind: resources.ErrUnavailable, Reason: "storage unavailable", Err: err}
	}
	return nil
}

// Get returns the account's resource id.
func (s *Service) Get(ctx context.Context, account, id string) (resources.Resource, error) {
	return s.db.GetResource(ctx, account, id)
}

// List returns one page of the account's resources that match f.
func (s *Service) List(ctx context.Context, f resources.Filter) (resources.Page, error) {
	return s.db.ListResources(ctx, f)
}

// Update applies u to the account's resource id. The bytes stay where they
// are: their key holds the id, not the path. Invalid fields are refused
// before the resource is looked up, so they are ErrInvalid whether or not
// it exists.
func (s *Service) Update(ctx context.Context, account, id string, u resources.Update) (resources.Resource, error) {
	u, err := u.Normalize()
	if err != nil {
		return resources.Resource{}, err
	}
	return s.db.UpdateResource(ctx, account, id, u, s.now())
}

// Delete removes the account's resource id: the row (and its tags) first,
// then the bytes, so a failure in between leaves only bytes for
// CollectGarbage, never a row without bytes.
func (s *Service) Delete(ctx context.Context, account, id string) error {
	r, err := s.db.DeleteResource(ctx, account, id, s.now())
	if err != nil {
		return err
	}
	if s.ours(r) {
		s.removeBytes(ctx, r.StorageKey)
	}
	return nil
}

// ours reports whether r's bytes are in this server's bucket: imported rows
// may point into another, which is not ours to read or empty.
func (s *Service) ours(r resources.Resource) bool { return r.StorageBucket == s.blobs.Bucket() }

// removeBytes deletes bytes no row references any more, or never did. A
// failure is logged and left to CollectGarbage.
func (s *Service) removeBytes(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.blobs.Delete(ctx, key); err != nil {
		s.log.WarnContext(ctx, "bytes left for refactor gc", "storage_key", key, "error", err.Error())
	}
}
