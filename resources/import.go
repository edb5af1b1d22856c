package resources

import (
	"context"
	"fmt"
	"io"
	"iter"

	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/store"
)

// Import stores the resources of rs, every field as given, all or none.
// When content is not nil, the bytes it returns for a resource are stored
// first, in this server's bucket, and the resource points at them; they
// must hash to its sha256. When the rows cannot be stored, those bytes are
// removed again. It returns how many resources it stored; its errors are
// for an operator, not a client.
func (s *Service) Import(ctx context.Context, rs iter.Seq2[store.Resource, error], content func(store.Resource) io.Reader) (int64, error) {
	var written []string
	withContent := func(yield func(store.Resource, error) bool) {
		for r, err := range rs {
			if err == nil && content != nil {
				err = s.putImported(ctx, &r, content(r))
				if err == nil {
					written = append(written, r.StorageKey)
				}
			}
			if !yield(r, err) || err != nil {
				return
			}
		}
	}
	n, err := s.db.ImportResources(ctx, withContent)
	if err != nil {
		for _, key := range written {
			s.removeBytes(ctx, key)
		}
		return 0, err
	}
	return n, nil
}

// putImported stores data as r's bytes and points r at them.
func (s *Service) putImported(ctx context.Context, r *store.Resource, data io.Reader) error {
	r.StorageBucket, r.StorageKey = s.blobs.Bucket(), blobstore.Key(r.AccountID, r.ID)
	w, err := s.blobs.Put(ctx, r.StorageKey, data, s.maxContent, r.MimeType)
	if err != nil {
		return fmt.Errorf("content of %s: %w", r.ID, err)
	}
	if w.SHA256 != r.SHA256 || w.Size != r.SizeBytes {
		s.removeBytes(ctx, r.StorageKey)
		return fmt.Errorf("content of %s: sha256 %s, %d bytes; the resource says %s, %d bytes", r.ID, w.SHA256, w.Size, r.SHA256, r.SizeBytes)
	}
	return nil
}
