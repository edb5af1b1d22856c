// Package resources owns the life of a resource: its bytes in the blob
// store and its row in the database, and the rules that keep the two
// together. The bytes are written before the row and removed again when
// the row cannot be written; a delete removes the row, then the bytes; only
// the bytes in this server's bucket are ever read or removed. A crash
// between two steps leaves only bytes no row references, which refactor gc
// collects.
package resources

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"time"

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
	// Now is the clock for created_at and updated_at; default time.Now.
	Now func() time.Time
}

// Service carries out the operations on resources.
type Service struct {
	db         *store.DB
	blobs      *blobstore.Store
	fetcher    *urlfetch.Fetcher
	log        *slog.Logger
	maxContent int64
	now        func() time.Time
}

// New returns a Service over cfg's database, storage and fetcher.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Blobs == nil || cfg.Fetcher == nil {
		return nil, errors.New("resources: Config needs DB, Blobs and Fetcher")
	}
	s := &Service{db: cfg.DB, blobs: cfg.Blobs, fetcher: cfg.Fetcher, log: cmp.Or(cfg.Logger, slog.Default()),
		maxContent: cmp.Or(cfg.MaxContentBytes, DefaultMaxContentBytes), now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// MaxContentBytes is the most bytes a resource may hold.
func (s *Service) MaxContentBytes() int64 { return s.maxContent }

// Get returns the account's resource id.
func (s *Service) Get(ctx context.Context, account, id string) (store.Resource, error) {
	r, err := s.db.GetResource(ctx, account, id)
	return r, s.describe(err, "")
}

// List returns one page of the account's resources that match f.
func (s *Service) List(ctx context.Context, f store.ResourceFilter) (store.ResourcePage, error) {
	page, err := s.db.ListResources(ctx, f)
	return page, s.describe(err, "")
}

// Update applies u to the account's resource id. The bytes stay where they
// are: their key holds the id, not the path. Invalid fields are refused
// before the resource is looked up, so they are ErrInvalid whether or not
// it exists.
func (s *Service) Update(ctx context.Context, account, id string, u store.ResourceUpdate) (store.Resource, error) {
	var errName, errPath, errMetadata error
	if u.Name != nil {
		errName = store.ValidateName(*u.Name)
	}
	if u.DirectoryPath != nil {
		errPath = store.ValidateDirectoryPath(*u.DirectoryPath)
	}
	if u.Metadata != nil {
		_, errMetadata = store.ValidateMetadata(u.Metadata)
	}
	if err := cmp.Or(errName, errPath, errMetadata); err != nil {
		return store.Resource{}, s.describe(err, "")
	}
	r, err := s.db.UpdateResource(ctx, account, id, u, s.now())
	return r, s.describe(err, "another resource of the account has this directory_path and name")
}

// Delete removes the account's resource id: the row (and its tags) first,
// then the bytes, so a failure in between leaves only bytes for refactor
// gc, never a row without bytes.
func (s *Service) Delete(ctx context.Context, account, id string) error {
	r, err := s.db.DeleteResource(ctx, account, id)
	if err != nil {
		return s.describe(err, "")
	}
	if s.ours(r) {
		s.removeBytes(ctx, r.StorageKey)
	}
	return nil
}

// ours reports whether r's bytes are in this server's bucket: imported rows
// may point into another, which is not ours to read or empty.
func (s *Service) ours(r store.Resource) bool { return r.StorageBucket == s.blobs.Bucket() }

// removeBytes deletes bytes no row references any more, or never did. A
// failure is logged and left to refactor gc.
func (s *Service) removeBytes(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.blobs.Delete(ctx, key); err != nil {
		s.log.WarnContext(ctx, "bytes left for refactor gc", "storage_key", key, "error", err.Error())
	}
}
