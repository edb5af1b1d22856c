package catalog

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/blobstore"
)

// CollectGarbage finds the stored bytes that no resource references: what a
// crash between writing the bytes and the row of a create, or between
// deleting the row and the bytes, leaves behind. Bytes written after cutoff
// may belong to a create still in flight, so they stay. It calls found with
// each orphan (after removing it, when remove is true) and returns how many
// resources reference this server's bucket.
//
// It merges the storage keys that rows reference with the bucket's listing,
// both in key order, so memory does not grow with either.
func (s *Service) CollectGarbage(ctx context.Context, cutoff time.Time, remove bool, found func(blobstore.Orphan) error) (int64, error) {
	var n int64
	referenced := func(ctx context.Context, fn func(string) error) error {
		return s.db.StorageKeys(ctx, s.blobs.Bucket(), func(key string) error {
			n++
			return fn(key)
		})
	}
	if err := s.blobs.Orphans(ctx, cutoff, referenced, s.liveUpload, remove, found); err != nil {
		return n, fmt.Errorf("gc: %w", err)
	}
	return n, nil
}

// liveUpload reports whether o holds the bytes of a resumable upload in
// progress: the bytes of its partial object (o.Partial is its id), or its
// multipart upload, whose key names the upload's id (Key(account, id), and
// ids are UUIDs, which keys keep as they are). An upload whose row is
// gone, or never was written, holds none.
func (s *Service) liveUpload(ctx context.Context, o blobstore.Orphan) (bool, error) {
	id := path.Base(o.Key)
	if o.Partial != "" {
		id = o.Partial
	}
	u, err := s.db.UploadOf(ctx, id)
	if errors.Is(err, resources.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if o.Partial != "" {
		return !u.Done(), nil
	}
	st, err := blobstore.ParsePartialState(u.State)
	return err == nil && !u.Done() && st.Upload == o.Upload, nil
}

// Bucket names the bucket this server keeps bytes in.
func (s *Service) Bucket() string { return s.blobs.Bucket() }
