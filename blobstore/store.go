// Package blobstore keeps the bytes of resources in blob storage through
// gocloud.dev/blob, in the bucket named by a URL (BLOB_URL):
//
//	file://data/blobs                       a directory, relative to the working directory
//	file:///var/lib/refactor/blobs          an absolute directory
//	s3://bucket?region=R                    Amazon S3
//	s3://bucket?endpoint=http://h:9000&region=R   an S3-compatible server (path-style requests)
//	gs://bucket                             Google Cloud Storage
//	azblob://container                      Azure Blob Storage
//	mem://                                  in memory, for experiments
//
// S3, GCS and Azure take their credentials from the environment as their SDKs
// do (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, GOOGLE_APPLICATION_CREDENTIALS,
// AZURE_STORAGE_ACCOUNT and its key, ...).
//
// Every resource's bytes live at [Key](account, id): the key never depends on
// the resource's name or directory, so renames and moves never touch storage.
// Content is never replaced: a key is written once, when its resource is
// created.
//
// Nothing is lost and nothing is orphaned when callers follow this order:
//
//   - create: [Store.Put] the bytes, then insert the row; when the insert
//     fails, [Store.Delete] the bytes. A failed or rejected Put leaves nothing.
//   - delete: delete the row, then [Store.Delete] the bytes.
//
// A row therefore never points at missing bytes. A crash between the two
// steps leaves bytes that no row references; [Store.Orphans] (run by
// `refactor gc`) finds and removes them once they are older than a grace
// period longer than any create can take.
//
// Every storage operation has a deadline (see [WithTimeout]), so an outage of
// the storage is an error wrapping ErrUnavailable within seconds, never a
// wait as long as the driver's retries.
package blobstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob://
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob" // gs://
	_ "gocloud.dev/blob/memblob" // mem://
	_ "gocloud.dev/blob/s3blob"  // s3://
	"gocloud.dev/gcerrors"
)

var (
	// ErrNotFound is returned when no object is stored at a key.
	ErrNotFound = errors.New("blobstore: object not found")
	// ErrTooLarge is returned by Put when the content exceeds its limit
	// (HTTP 413).
	ErrTooLarge = errors.New("blobstore: content too large")
	// ErrUnavailable is returned when the storage service failed or could
	// not be reached (HTTP 503).
	ErrUnavailable = errors.New("blobstore: storage unavailable")
)

// DefaultTimeout is the deadline of each storage operation unless
// WithTimeout sets another.
const DefaultTimeout = 3 * time.Second

// Store is a bucket that holds resource content. It is safe for concurrent
// use.
type Store struct {
	bucket   *blob.Bucket
	name     string
	dir      string // the directory of a file:// bucket, which Orphans walks itself
	timeout  time.Duration
	pageSize int            // keys that Orphans lists at a time
	cleanups sync.WaitGroup // clean-ups of failed Puts still running; Close waits
}

// An Option configures Open and New.
type Option func(*Store)

// WithTimeout sets the deadline of each storage operation: opening a read, a
// delete, a ping, one page of a listing must each finish within d, and each
// step of a transfer (every read or write of content, and finishing a write)
// must finish within d. A long transfer that keeps moving is never cut; one
// that stalls for d fails. The default is DefaultTimeout; d <= 0 keeps it.
func WithTimeout(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// Open opens the bucket that rawURL names (see the package comment). For
// file:// URLs it creates the directory when missing; other schemes are not
// contacted until first use (see [Store.Ping]). Open returns an error when the
// URL cannot be parsed, its scheme has no driver, or the directory cannot be
// created.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("blobstore: parse blob URL %q: %w", rawURL, err)
	}
	name, dir := u.Host, ""
	switch u.Scheme {
	case fileblob.Scheme:
		if name, err = fileURL(u); err != nil {
			return nil, fmt.Errorf("blobstore: open %q: %w", rawURL, err)
		}
		dir = filepath.FromSlash(u.Path)
	case "s3":
		s3URL(u)
	case "mem":
		if name == "" {
			name = "mem"
		}
	}
	b, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("blobstore: open %q: %w", rawURL, err)
	}
	s := New(b, name, opts...)
	s.dir = dir
	return s, nil
}

// fileURL rewrites u, a file:// URL whose host and path together name a
// directory (relative unless the host is empty or "localhost"), into an absolute fileblob
// URL, creates the directory and returns its base name as the bucket name.
// Temporary files are written next to their final place, so that renames never
// cross file systems; [Store.Orphans] removes those a crash left behind.
func fileURL(u *url.URL) (string, error) {
	dir := filepath.FromSlash(u.Host + u.Path)
	if u.Host == "localhost" {
		dir = filepath.FromSlash(u.Path)
	}
	if dir == "" {
		return "", errors.New("file URL names no directory")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolve directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create directory: %w", err)
	}
	q := u.Query()
	if !q.Has("no_tmp_dir") {
		q.Set("no_tmp_dir", "true")
	}
	u.Host, u.Path, u.RawPath, u.RawQuery = "", filepath.ToSlash(dir), "", q.Encode()
	name := filepath.Base(dir)
	if name == string(filepath.Separator) {
		name = "local"
	}
	return name, nil
}

// s3URL makes path-style requests the default when u names an endpoint:
// S3-compatible servers rarely resolve bucket.host names.
func s3URL(u *url.URL) {
	q := u.Query()
	if q.Get("endpoint") == "" || q.Has("use_path_style") || q.Has("s3ForcePathStyle") {
		return
	}
	q.Set("use_path_style", "true")
	u.RawQuery = q.Encode()
}

// New returns a Store that keeps content in b and reports name as its
// [Store.Bucket]. The Store owns b: [Store.Close] closes it. [Store.Orphans]
// needs b to list keys in byte order, as S3, GCS, Azure and mem:// do; open
// file:// buckets with Open, which lists them itself.
func New(b *blob.Bucket, name string, opts ...Option) *Store {
	s := &Store{bucket: b, name: name, timeout: DefaultTimeout, pageSize: gcPageSize}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// Bucket returns the name recorded as a resource's storage_bucket: the bucket
// (or container) name for s3://, gs:// and azblob://, the directory's base name
// for file:// ("local" for the root directory), and the host or "mem" for
// mem://.
func (s *Store) Bucket() string { return s.name }

// Ping reports whether the bucket can be listed. It returns an error wrapping
// ErrUnavailable when it cannot, or when the bucket does not exist.
func (s *Store) Ping(ctx context.Context) error {
	if s.dir != "" {
		// fileblob lists a folder it cannot read as an empty bucket.
		if fi, err := os.Stat(s.dir); err != nil || !fi.IsDir() {
			return fmt.Errorf("blobstore: bucket %q: folder %s is missing or not a folder: %w", s.name, s.dir, ErrUnavailable)
		}
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	ok, err := s.bucket.IsAccessible(ctx)
	if err != nil {
		return s.unavailable(ctx, "ping", "", err)
	}
	if !ok {
		return fmt.Errorf("blobstore: bucket %q does not exist: %w", s.name, ErrUnavailable)
	}
	return nil
}

// Close waits for the clean-ups of failed Puts still running, each within
// its deadline, then releases the bucket. It returns the driver's error, if
// any.
func (s *Store) Close() error {
	s.cleanups.Wait()
	if err := s.bucket.Close(); err != nil {
		return fmt.Errorf("blobstore: close bucket %q: %w", s.name, err)
	}
	return nil
}

// fail wraps err, returned by the storage driver for op on key, as
// ErrNotFound when the driver says so, or else as unavailable does.
func (s *Store) fail(ctx context.Context, op, key string, err error) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		return fmt.Errorf("%s: %w: %w", s.what(op, key), ErrNotFound, err)
	}
	return s.unavailable(ctx, op, key, err)
}

// unavailable wraps err, returned by the storage driver for op on key, as the
// cause of ctx when ctx is done (the caller's error when the caller gave up,
// one wrapping ErrUnavailable when the operation's deadline passed), as
// itself when the request was invalid, or else as ErrUnavailable (a missing
// bucket included).
func (s *Store) unavailable(ctx context.Context, op, key string, err error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", s.what(op, key), context.Cause(ctx))
	case gcerrors.Code(err) == gcerrors.InvalidArgument:
		return fmt.Errorf("%s: %w", s.what(op, key), err)
	default:
		return fmt.Errorf("%s: %w: %w", s.what(op, key), ErrUnavailable, err)
	}
}

// what names op on key (or on the bucket, when key is "") for an error.
func (s *Store) what(op, key string) string {
	if key == "" {
		return fmt.Sprintf("blobstore: %s bucket %q", op, s.name)
	}
	return fmt.Sprintf("blobstore: %s %q in bucket %q", op, key, s.name)
}
