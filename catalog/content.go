package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/re-factor/resources"
)

// Download returns the account's resource id and a reader of its bytes,
// which opens nothing until it is read or opened. Bytes outside this
// server's bucket are ErrNotFound.
func (s *Service) Download(ctx context.Context, account, id string) (resources.Resource, *Content, error) {
	r, err := s.db.GetResource(ctx, account, id)
	if err != nil {
		return resources.Resource{}, nil, err
	}
	c, err := s.content(ctx, r)
	if err != nil {
		return resources.Resource{}, nil, err
	}
	return r, c, nil
}

// Content is an io.ReadSeeker over a resource's bytes whose size the row
// already knows: seeking costs nothing, and the bytes are opened from the
// current offset by Open, or else by the first Read, so that a download
// opens one read of exactly the bytes it sends.
type Content struct {
	ctx    context.Context
	s      *Service
	key    string
	size   int64
	offset int64
	rc     io.ReadCloser
	err    error // the first storage error, which every later Read returns
}

// Open opens length bytes from the current offset, to the end when length
// is negative. It returns the storage's error, which Err keeps.
func (c *Content) Open(length int64) error {
	if c.err != nil {
		return c.err
	}
	if length == 0 {
		length = -1 // the whole of empty content: S3 has no empty range
	}
	rc, err := c.s.blobs.NewRangeReader(c.ctx, c.key, c.offset, length)
	if err != nil {
		c.err = c.s.bytesError(fmt.Errorf("read content %s: %w", c.key, err))
		return c.err
	}
	c.rc = rc
	return nil
}

// Err returns the first storage error, or nil.
func (c *Content) Err() error { return c.err }

func (c *Content) Read(p []byte) (int, error) {
	if c.rc == nil {
		if err := c.Open(-1); err != nil {
			return 0, err
		}
	}
	n, err := c.rc.Read(p)
	c.offset += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		c.err = c.s.bytesError(fmt.Errorf("read content %s: %w", c.key, err))
	}
	return n, err
}

func (c *Content) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += c.offset
	case io.SeekEnd:
		offset += c.size
	}
	if offset < 0 {
		return 0, errors.New("seek before start")
	}
	if offset != c.offset {
		c.Close()
		c.offset = offset
	}
	return offset, nil
}

// Close closes the read that is open, if any.
func (c *Content) Close() error {
	if c.rc == nil {
		return nil
	}
	err := c.rc.Close()
	c.rc = nil
	return err
}
