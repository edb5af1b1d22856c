package blobstore

import (
	"context"
	"fmt"
	"io"

	"gocloud.dev/gcerrors"
)

// NewRangeReader returns a reader of length bytes of the object at key,
// starting at offset; a negative length reads to the end. The caller must close
// it. It returns an error wrapping ErrNotFound when no object is at key,
// ErrUnavailable when the storage fails, or the driver's error for an invalid
// range.
func (s *Store) NewRangeReader(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, fmt.Errorf("blobstore: read %q: negative offset %d", key, offset)
	}
	r, err := s.bucket.NewRangeReader(ctx, key, offset, length, nil)
	if err != nil {
		return nil, s.fail(ctx, "read", key, err)
	}
	return r, nil
}

// Delete removes the object at key. A missing object is not an error. It
// returns an error wrapping ErrUnavailable when the storage fails, or the
// context's error.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.bucket.Delete(ctx, key)
	if err == nil || gcerrors.Code(err) == gcerrors.NotFound {
		return nil
	}
	return s.fail(ctx, "delete", key, err)
}
