package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
)

// gcPageSize is how many keys Orphans lists at a time, unless a test changes
// it.
const gcPageSize = 1000

// Referenced calls fn with the key of every object that a resource row
// references, in byte order (the order in which Go compares strings), and
// stops at fn's first error, which it returns. Orphans never removes a key it
// yields.
type Referenced func(ctx context.Context, fn func(key string) error) error

// Live reports whether o, an unfinished S3 multipart upload or the bytes
// of a partial object (o.Partial), belongs to a resumable upload still in
// progress, which Orphans must leave alone.
type Live func(ctx context.Context, o Orphan) (bool, error)

// Orphan is stored content that no resource references.
type Orphan struct {
	Key     string
	Size    int64     // bytes; 0 for an unfinished upload
	ModTime time.Time // when it was written, or when the upload began
	// Upload is the ID of an unfinished S3 multipart upload, which holds
	// storage but is no object; "" for an object.
	Upload string
	// Partial is the id of the partial object (StartPartial) whose bytes
	// this object under uploads/ holds: a file:// upload's file, the
	// pending bytes of an S3 one, a piece on other buckets. "" for
	// anything else.
	Partial string
}

// Orphans finds the objects under Key's prefix that were last modified before
// olderThan and whose keys referenced does not yield, and calls found with
// each, after removing it when remove is true. When live is not nil, it
// then finds (and removes) the bytes of partial objects under uploads/
// last written before olderThan that live does not claim: what a crash
// between StartPartial and the caller's record of it, or between the
// record's removal and AbortPartial, leaves. On S3 it then finds (and
// aborts) the multipart uploads begun before olderThan that were never
// finished and that live (when not nil) does not claim. Objects come in
// key order, then partial objects' bytes, then uploads.
//
// Orphans merges two sorted streams, the bucket's listing and referenced's
// keys, so its memory does not grow with the number of objects or resources
// (but for a file:// bucket, whose directories are each read whole to list
// them in order). It stops with an error when either stream is out of order,
// which would make a referenced object look unreferenced.
//
// olderThan must leave a grace period longer than any create takes, since a
// create stores its content before it inserts the row that references it,
// and referenced must read the rows after olderThan was taken.
//
// Orphans returns the first error: referenced's, found's, the context's, or
// one wrapping ErrUnavailable when the storage fails.
func (s *Store) Orphans(ctx context.Context, olderThan time.Time, referenced Referenced, live Live, remove bool, found func(Orphan) error) error {
	if referenced == nil || found == nil {
		return errors.New("blobstore: orphans: referenced and found must not be nil")
	}
	listing := s.listBucket(ctx, keyPrefix)
	if s.dir != "" {
		listing = walkFiles(s.dir, keyPrefix)
	}
	next, stop := iter.Pull2(listing)
	defer stop()
	m := &merge{next: next, orphan: func(o Orphan) error {
		if !o.ModTime.Before(olderThan) {
			return nil
		}
		if remove {
			if err := s.Delete(ctx, o.Key); err != nil {
				return err
			}
		}
		return found(o)
	}}
	if err := referenced(ctx, m.referenced); err != nil {
		return err
	}
	if err := m.rest(); err != nil {
		return err
	}
	if err := s.stalePartials(ctx, olderThan, live, remove, found); err != nil {
		return err
	}
	return s.staleUploads(ctx, olderThan, live, remove, found)
}

// stalePartials calls found with the objects under uploads/ last written
// before olderThan whose partial object live does not claim, after
// removing each when remove is true. Without live it looks at none: it
// could not tell a live upload's bytes from a dead one's.
func (s *Store) stalePartials(ctx context.Context, olderThan time.Time, live Live, remove bool, found func(Orphan) error) error {
	if live == nil {
		return nil
	}
	listing := s.listBucket(ctx, partialPrefix)
	if s.dir != "" {
		listing = walkFiles(s.dir, partialPrefix)
	}
	for o, err := range listing {
		if err != nil {
			return err
		}
		if !o.ModTime.Before(olderThan) {
			continue
		}
		// uploads/{id} (file://), uploads/{id}/... (other buckets); ids
		// are UUIDs, which segment keeps as they are.
		o.Partial, _, _ = strings.Cut(strings.TrimPrefix(o.Key, partialPrefix), "/")
		if ok, err := live(ctx, o); err != nil || ok {
			if err != nil {
				return err
			}
			continue
		}
		if remove {
			if err := s.removePartialObject(ctx, o.Key); err != nil {
				return err
			}
		}
		if err := found(o); err != nil {
			return err
		}
	}
	return nil
}

// removePartialObject removes key, under uploads/. On file:// it is a
// file of partialPath's, written without the bucket's library.
func (s *Store) removePartialObject(ctx context.Context, key string) error {
	if s.dir == "" {
		return s.Delete(ctx, key)
	}
	if err := os.Remove(filepath.Join(s.dir, filepath.FromSlash(key))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blobstore: remove %q: %w: %w", key, ErrUnavailable, err)
	}
	return nil
}

// merge walks a sorted listing against sorted referenced keys and hands
// every listed object that no key names to orphan.
type merge struct {
	next    func() (Orphan, error, bool)
	orphan  func(Orphan) error
	head    *Orphan // the listed object not yet decided on
	last    string  // the key of the last object listed
	lastRef *string // the last referenced key
}

// referenced takes the next referenced key: every listed object before it is
// unreferenced, one equal to it is referenced.
func (m *merge) referenced(key string) error {
	if m.lastRef != nil && key < *m.lastRef {
		return fmt.Errorf("blobstore: orphans: referenced keys out of order: %q after %q", key, *m.lastRef)
	}
	m.lastRef = &key
	for {
		o, err := m.peek()
		if err != nil || o == nil || o.Key > key {
			return err
		}
		m.head = nil
		if o.Key < key {
			if err := m.orphan(*o); err != nil {
				return err
			}
		}
	}
}

// rest hands every object still to be listed to orphan: no key names it.
func (m *merge) rest() error {
	for {
		o, err := m.peek()
		if err != nil || o == nil {
			return err
		}
		m.head = nil
		if err := m.orphan(*o); err != nil {
			return err
		}
	}
}

// peek returns the next listed object without taking it, nil at the end.
func (m *merge) peek() (*Orphan, error) {
	if m.head != nil {
		return m.head, nil
	}
	o, err, ok := m.next()
	if !ok {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if m.last != "" && o.Key <= m.last {
		return nil, fmt.Errorf("blobstore: orphans: listing out of order: %q after %q", o.Key, m.last)
	}
	m.head, m.last = &o, o.Key
	return m.head, nil
}

// listBucket yields the objects under prefix as the driver lists them, a
// page at a time, each page within the timeout.
func (s *Store) listBucket(ctx context.Context, prefix string) iter.Seq2[Orphan, error] {
	return func(yield func(Orphan, error) bool) {
		opts := &blob.ListOptions{Prefix: prefix}
		for token := blob.FirstPageToken; ; {
			lctx, cancel := s.withTimeout(ctx)
			page, next, err := s.bucket.ListPage(lctx, token, s.pageSize, opts)
			if err != nil {
				err = s.unavailable(lctx, "list", prefix, err)
			}
			cancel()
			if err != nil {
				yield(Orphan{}, err)
				return
			}
			for _, obj := range page {
				if !obj.IsDir && !yield(Orphan{Key: obj.Key, Size: obj.Size, ModTime: obj.ModTime}, nil) {
					return
				}
			}
			if len(next) == 0 {
				return
			}
			token = next
		}
	}
}

// staleUploads calls found with the unfinished S3 multipart uploads under
// Key's prefix begun before olderThan that live does not claim, after aborting each when remove is
// true. It does nothing for other drivers, and returns found's error or one
// wrapping ErrUnavailable when S3 fails.
func (s *Store) staleUploads(ctx context.Context, olderThan time.Time, live Live, remove bool, found func(Orphan) error) error {
	return s.eachUpload(ctx, keyPrefix, func(client *s3.Client, o Orphan) error {
		if !o.ModTime.Before(olderThan) {
			return nil
		}
		if live != nil {
			if ok, err := live(ctx, o); err != nil || ok {
				return err
			}
		}
		if remove {
			if err := s.abortUpload(ctx, client, o); err != nil {
				return err
			}
		}
		return found(o)
	})
}

// abortUploads aborts the unfinished S3 multipart uploads of key. It does
// nothing for other drivers, and returns an error wrapping ErrUnavailable
// when S3 fails.
func (s *Store) abortUploads(ctx context.Context, key string) error {
	return s.eachUpload(ctx, key, func(client *s3.Client, o Orphan) error {
		if o.Key != key {
			return nil
		}
		return s.abortUpload(ctx, client, o)
	})
}

// eachUpload calls f for each unfinished S3 multipart upload under prefix,
// and stops at its first error, which it returns. It does nothing for other
// drivers, and returns an error wrapping ErrUnavailable when S3 fails. Each
// page of the listing has the timeout.
func (s *Store) eachUpload(ctx context.Context, prefix string, f func(*s3.Client, Orphan) error) error {
	var client *s3.Client
	if !s.bucket.As(&client) {
		return nil
	}
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(s.name), Prefix: aws.String(prefix)}
	for {
		out, err := s3Call(ctx, s, "list uploads", prefix, client.ListMultipartUploads, in)
		if err != nil {
			return err
		}
		for _, u := range out.Uploads {
			o := Orphan{Key: aws.ToString(u.Key), ModTime: aws.ToTime(u.Initiated), Upload: aws.ToString(u.UploadId)}
			if err := f(client, o); err != nil {
				return err
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// abortUpload aborts the unfinished multipart upload o, within the timeout.
// It returns an error wrapping ErrUnavailable when S3 fails.
func (s *Store) abortUpload(ctx context.Context, client *s3.Client, o Orphan) error {
	_, err := s3Call(ctx, s, "abort upload "+o.Upload+" of", o.Key, client.AbortMultipartUpload, &s3.AbortMultipartUploadInput{
		Bucket:   aws.String(s.name),
		Key:      aws.String(o.Key),
		UploadId: aws.String(o.Upload),
	})
	return err
}
