package blobstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"gocloud.dev/blob"
)

// HeadSize is how many leading bytes of the content Written.Head holds: as
// many as http.DetectContentType looks at.
const HeadSize = 512

// chunkSize is how much Put reads from its reader at a time.
const chunkSize = 256 << 10

// partSize is how much of an upload the driver holds and sends at a time:
// the smallest part S3 accepts. With one part in flight, a write that waits
// waits for one part to be stored, which the stall deadline can fairly
// bound, and an upload holds two parts in memory rather than the S3
// driver's default of five 8 MiB parts.
const partSize = 5 << 20

// Written describes the content that Put stored.
type Written struct {
	SHA256 string // lowercase hex SHA-256 of the content
	Size   int64  // length of the content in bytes
	Head   []byte // the first HeadSize bytes (fewer if the content is shorter)
}

// Put streams r into the object at key, computing the content's SHA-256 and
// size as it goes. contentType is stored with the object; when empty the
// driver sniffs one. maxBytes limits the content's length (a negative value
// means no limit). Each write to the storage, and the final one, must finish
// within the Store's timeout; time spent waiting for r does not count.
//
// On failure Put stores nothing at key and returns an error wrapping:
// ErrTooLarge when r holds more than maxBytes bytes; the error of r when
// reading r fails; the context's error when ctx is done first; ErrUnavailable
// when the storage fails or stalls. When the storage failed, the clean-up
// goes on after Put returns (see [Store.Close]); what it cannot remove,
// Orphans does.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, maxBytes int64, contentType string) (Written, error) {
	wd := s.newWatchdog(ctx)
	defer wd.stop()
	opts := &blob.WriterOptions{ContentType: contentType, BufferSize: partSize, MaxConcurrency: 1}
	var w *blob.Writer
	err := wd.step(func() (err error) {
		w, err = s.bucket.NewWriter(wd.ctx, key, opts)
		return err
	})
	if err != nil {
		return Written{}, s.unavailable(wd.ctx, "put", key, err)
	}
	written, err := s.copy(wd, key, w, r, maxBytes)
	if err != nil {
		// Ending the writer's context before Close aborts the write:
		// fileblob drops its temporary file, s3blob never completes the
		// upload. s3blob's uploader tries to abort a multipart upload with
		// the ended context, which fails, so clean up here.
		wd.stop()
		_ = w.Close()
		s.cleanUp(ctx, key, false, err)
		return Written{}, err
	}
	if err := wd.step(w.Close); err != nil {
		err = s.unavailable(wd.ctx, "put", key, err)
		s.cleanUp(ctx, key, true, err)
		return Written{}, err
	}
	return written, nil
}

// copy writes r to w, which stores key, each write under wd, and describes
// what it wrote. It returns an error as Put documents.
func (s *Store) copy(wd *watchdog, key string, w io.Writer, r io.Reader, maxBytes int64) (Written, error) {
	h := sha256.New()
	head := make([]byte, 0, HeadSize)
	buf := make([]byte, chunkSize)
	var size int64
	for {
		if wd.ctx.Err() != nil {
			return Written{}, fmt.Errorf("blobstore: put %q after %d bytes: %w", key, size, context.Cause(wd.ctx))
		}
		n, rerr := r.Read(buf)
		if n > 0 {
			if maxBytes >= 0 && size+int64(n) > maxBytes {
				return Written{}, fmt.Errorf("blobstore: put %q: content exceeds %d bytes: %w", key, maxBytes, ErrTooLarge)
			}
			if err := wd.step(func() error { _, err := w.Write(buf[:n]); return err }); err != nil {
				return Written{}, s.unavailable(wd.ctx, "put", key, err)
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

// cleanUp aborts the unfinished multipart uploads of key, after a Put that
// failed with cause, and also deletes key when del is true: after a Close
// that failed, the object may have been stored all the same. Each step has
// its own deadline and outlives the cancellation of ctx. When the storage
// itself failed, cleanUp runs in the background, so that the caller's answer
// does not wait on a storage that is down; Close waits for it. Errors leave
// what Orphans removes.
func (s *Store) cleanUp(ctx context.Context, key string, del bool, cause error) {
	ctx = context.WithoutCancel(ctx)
	run := func() {
		if del {
			dctx, cancel := s.withTimeout(ctx)
			_ = s.bucket.Delete(dctx, key)
			cancel()
		}
		_ = s.abortUploads(ctx, key)
	}
	if errors.Is(cause, ErrUnavailable) {
		s.cleanups.Go(run)
		return
	}
	run()
}
