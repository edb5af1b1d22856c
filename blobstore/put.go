package blobstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"gocloud.dev/blob"
)

// HeadSize is how many leading bytes of the content Written.Head holds: as
// many as http.DetectContentType looks at.
const HeadSize = 512

// chunkSize is how much Put reads from its reader at a time.
const chunkSize = 256 << 10

// cleanupTimeout bounds the clean-up after a failed Put.
const cleanupTimeout = 30 * time.Second

// Written describes the content that Put stored.
type Written struct {
	SHA256 string // lowercase hex SHA-256 of the content
	Size   int64  // length of the content in bytes
	Head   []byte // the first HeadSize bytes (fewer if the content is shorter)
}

// Put streams r into the object at key, computing the content's SHA-256 and
// size as it goes. contentType is stored with the object; when empty the
// driver sniffs one. maxBytes limits the content's length (a negative value
// means no limit).
//
// On failure Put stores nothing at key and returns an error wrapping:
// ErrTooLarge when r holds more than maxBytes bytes; the error of r when
// reading r fails; the context's error when ctx is done first; ErrUnavailable
// when the storage fails.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, maxBytes int64, contentType string) (Written, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(wctx, key, &blob.WriterOptions{ContentType: contentType})
	if err != nil {
		return Written{}, s.unavailable(ctx, "put", key, err)
	}
	written, err := s.copy(wctx, key, w, r, maxBytes)
	if err != nil {
		// Cancelling the writer's context before Close aborts the write:
		// fileblob drops its temporary file, s3blob never completes the
		// upload. s3blob's uploader tries to abort a multipart upload with
		// the cancelled context, which fails, so abort it here.
		cancel()
		_ = w.Close()
		s.cleanUp(ctx, key, false)
		return Written{}, err
	}
	if err := w.Close(); err != nil {
		s.cleanUp(ctx, key, true)
		return Written{}, s.unavailable(ctx, "put", key, err)
	}
	return written, nil
}

// copy writes r to w, which stores key, and describes what it wrote. It
// returns an error as Put documents.
func (s *Store) copy(ctx context.Context, key string, w io.Writer, r io.Reader, maxBytes int64) (Written, error) {
	h := sha256.New()
	head := make([]byte, 0, HeadSize)
	buf := make([]byte, chunkSize)
	var size int64
	for {
		if ctx.Err() != nil {
			return Written{}, fmt.Errorf("blobstore: put %q after %d bytes: %w", key, size, context.Cause(ctx))
		}
		n, rerr := r.Read(buf)
		if n > 0 {
			if maxBytes >= 0 && size+int64(n) > maxBytes {
				return Written{}, fmt.Errorf("blobstore: put %q: content exceeds %d bytes: %w", key, maxBytes, ErrTooLarge)
			}
			if _, err := w.Write(buf[:n]); err != nil {
				return Written{}, s.unavailable(ctx, "put", key, err)
			}
			h.Write(buf[:n])
			head = append(head, buf[:min(n, cap(head)-len(head))]...)
			size += int64(n)
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return Written{}, fmt.Errorf("blobstore: put %q: read content after %d bytes: %w", key, size, rerr)
		}
	}
	return Written{SHA256: hex.EncodeToString(h.Sum(nil)), Size: size, Head: head}, nil
}

// cleanUp aborts the unfinished multipart uploads of key, after a failed
// write, and also deletes key when del is true: after a Close that failed, the
// object may have been stored all the same. It ignores errors, which leave
// what Orphans removes, and outlives the cancellation of ctx.
func (s *Store) cleanUp(ctx context.Context, key string, del bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if del {
		_ = s.bucket.Delete(ctx, key)
	}
	_ = s.abortUploads(ctx, key)
}
