package blobstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
)

// gcPageSize is how many keys Orphans lists, and asks about, at a time, unless
// a test changes it.
const gcPageSize = 1000

// Referenced reports which of keys a resource row references: the keys that
// map to true. Orphans never removes a key for which it returns true, and
// stops at its first error.
type Referenced func(ctx context.Context, keys []string) (map[string]bool, error)

// Orphan is stored content that no resource references.
type Orphan struct {
	Key     string
	Size    int64     // bytes; 0 for an unfinished upload
	ModTime time.Time // when it was written, or when the upload began
	// Upload is the ID of an unfinished S3 multipart upload, which holds
	// storage but is no object; "" for an object.
	Upload string
}

// Orphans finds the objects under Key's prefix that were last modified before
// olderThan and that referenced does not claim, and removes them when remove
// is true. On S3 it also finds (and aborts) the multipart uploads begun before
// olderThan that were never finished.
//
// olderThan must leave a grace period longer than any create takes, since a
// create stores its content before it inserts the row that references it.
//
// Orphans returns the orphans found (and removed, if asked), objects in key
// order and then uploads, and the first error: referenced's, the context's,
// or one wrapping ErrUnavailable when the storage fails. On error the orphans
// returned are those handled before it.
func (s *Store) Orphans(ctx context.Context, olderThan time.Time, referenced Referenced, remove bool) ([]Orphan, error) {
	if referenced == nil {
		return nil, errors.New("blobstore: orphans: referenced is nil")
	}
	var found []Orphan
	opts := &blob.ListOptions{Prefix: keyPrefix}
	for token := blob.FirstPageToken; ; {
		page, next, err := s.bucket.ListPage(ctx, token, s.pageSize, opts)
		if err != nil {
			return found, s.unavailable(ctx, "list", keyPrefix, err)
		}
		orphans, err := s.unreferenced(ctx, page, olderThan, referenced)
		if err != nil {
			return found, err
		}
		for _, o := range orphans {
			if remove {
				if err := s.Delete(ctx, o.Key); err != nil {
					return found, err
				}
			}
			found = append(found, o)
		}
		if len(next) == 0 {
			break
		}
		token = next
	}
	uploads, err := s.staleUploads(ctx, olderThan, remove)
	return append(found, uploads...), err
}

// unreferenced returns the objects of page older than olderThan that
// referenced does not claim. It returns referenced's error.
func (s *Store) unreferenced(ctx context.Context, page []*blob.ListObject, olderThan time.Time, referenced Referenced) ([]Orphan, error) {
	var old []Orphan
	var keys []string
	for _, obj := range page {
		if obj.IsDir || !obj.ModTime.Before(olderThan) {
			continue
		}
		old = append(old, Orphan{Key: obj.Key, Size: obj.Size, ModTime: obj.ModTime})
		keys = append(keys, obj.Key)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	refs, err := referenced(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("blobstore: orphans: check %d keys from %q: %w", len(keys), keys[0], err)
	}
	orphans := old[:0]
	for _, o := range old {
		if !refs[o.Key] {
			orphans = append(orphans, o)
		}
	}
	return orphans, nil
}

// staleUploads returns the unfinished S3 multipart uploads under Key's prefix
// begun before olderThan, and aborts them when remove is true. It returns
// nothing for other drivers, and an error wrapping ErrUnavailable when S3
// fails.
func (s *Store) staleUploads(ctx context.Context, olderThan time.Time, remove bool) ([]Orphan, error) {
	var found []Orphan
	err := s.eachUpload(ctx, keyPrefix, func(client *s3.Client, o Orphan) error {
		if !o.ModTime.Before(olderThan) {
			return nil
		}
		if remove {
			if err := s.abortUpload(ctx, client, o); err != nil {
				return err
			}
		}
		found = append(found, o)
		return nil
	})
	return found, err
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
// drivers, and returns an error wrapping ErrUnavailable when S3 fails.
func (s *Store) eachUpload(ctx context.Context, prefix string, f func(*s3.Client, Orphan) error) error {
	var client *s3.Client
	if !s.bucket.As(&client) {
		return nil
	}
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(s.name), Prefix: aws.String(prefix)}
	for {
		out, err := client.ListMultipartUploads(ctx, in)
		if err != nil {
			return s.unavailable(ctx, "list uploads", prefix, err)
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

// abortUpload aborts the unfinished multipart upload o. It returns an error
// wrapping ErrUnavailable when S3 fails.
func (s *Store) abortUpload(ctx context.Context, client *s3.Client, o Orphan) error {
	_, err := client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket:   aws.String(s.name),
		Key:      aws.String(o.Key),
		UploadId: aws.String(o.Upload),
	})
	if err != nil {
		return fmt.Errorf("blobstore: abort upload %q of %q in bucket %q: %w: %w", o.Upload, o.Key, s.name, ErrUnavailable, err)
	}
	return nil
}
