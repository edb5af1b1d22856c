package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// NewRangeReader returns a reader of length bytes of the object at key,
// starting at offset; a negative length reads to the end. Opening it, and
// each Read, must finish within the Store's timeout: a read that stalls
// fails, a long one that keeps moving does not. The caller must close it.
// It returns an error wrapping ErrNotFound when no object is at key,
// ErrUnavailable when the storage fails or stalls, or the driver's error for
// an invalid range; Read's errors other than io.EOF wrap ErrUnavailable or
// the context's error.
func (s *Store) NewRangeReader(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, fmt.Errorf("blobstore: read %q: negative offset %d", key, offset)
	}
	wd := s.newWatchdog(ctx)
	var r *blob.Reader
	err := wd.step(func() (err error) {
		r, err = s.bucket.NewRangeReader(wd.ctx, key, offset, length, nil)
		return err
	})
	if err != nil {
		err = s.fail(wd.ctx, "read", key, err)
		wd.stop()
		return nil, err
	}
	return &reader{s: s, key: key, r: r, wd: wd}, nil
}

// reader reads an object, each Read under the stall deadline.
type reader struct {
	s   *Store
	key string
	r   *blob.Reader
	wd  *watchdog
}

func (r *reader) Read(p []byte) (int, error) {
	var n int
	err := r.wd.step(func() (err error) {
		n, err = r.r.Read(p)
		return err
	})
	if err != nil && !errors.Is(err, io.EOF) {
		err = r.s.unavailable(r.wd.ctx, "read", r.key, err)
	}
	return n, err
}

// Close closes the driver's reader, then ends the read's context: in that
// order, so that a body read to its end goes back to the connection pool.
func (r *reader) Close() error {
	err := r.r.Close()
	r.wd.stop()
	return err
}

// Delete removes the object at key. A missing object is not an error. It
// returns an error wrapping ErrUnavailable when the storage fails or does not
// answer within the Store's timeout, or the context's error.
func (s *Store) Delete(ctx context.Context, key string) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	err := s.bucket.Delete(ctx, key)
	if err == nil || gcerrors.Code(err) == gcerrors.NotFound {
		return nil
	}
	return s.fail(ctx, "delete", key, err)
}
