package catalog

import (
	"context"
	"fmt"
	"io"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/store"
)

// ImportOptions says what Import does besides storing the rows.
type ImportOptions struct {
	// Content, when set, gives each resource's bytes: they are stored
	// first, in this server's bucket, the resource points at them, and they
	// must hash to its sha256.
	Content func(resources.Resource) io.Reader
	// Read, when set, is called after each resource read.
	Read func()
	// Step, when set, is called with the name of each step the store takes
	// after the last resource is read (store.StepCheckKeys,
	// store.StepAnalyse).
	Step func(name string)
}

// Import stores the resources of lines, JSON Lines in the form Export
// writes, every field as given, all or none. A line that breaks a rule
// stops it with an error naming the line. When the rows cannot be stored,
// the bytes stored for them are removed again. It returns how many
// resources it stored; its errors are for an operator, not a client.
func (s *Service) Import(ctx context.Context, lines io.Reader, o ImportOptions) (int64, error) {
	var written []string
	withContent := func(yield func(resources.Resource, error) bool) {
		for r, err := range resources.ReadLines(lines) {
			if err == nil && o.Read != nil {
				o.Read()
			}
			if err == nil && o.Content != nil {
				err = s.putImported(ctx, &r, o.Content(r))
				if err == nil {
					written = append(written, r.StorageKey)
				}
			}
			if !yield(r, err) || err != nil {
				return
			}
		}
	}
	var opts []store.ImportOption
	if o.Step != nil {
		opts = append(opts, store.WithImportSteps(o.Step))
	}
	n, err := s.db.ImportResources(ctx, withContent, opts...)
	if err != nil && n == 0 {
		for _, key := range written {
			s.removeBytes(ctx, key)
		}
	}
	return n, err
}

// putImported stores data as r's bytes and points r at them. A resource
// may hold up to MaxUploadBytes (a resumable upload's, a uri's), so an
// export of this server imports whole.
func (s *Service) putImported(ctx context.Context, r *resources.Resource, data io.Reader) error {
	r.StorageBucket, r.StorageKey = s.blobs.Bucket(), blobstore.Key(r.AccountID, r.ID)
	w, err := s.blobs.Put(ctx, r.StorageKey, data, max(s.maxContent, s.maxUpload), r.MimeType)
	if err != nil {
		return fmt.Errorf("content of %s: %w", r.ID, err)
	}
	if w.SHA256 != r.SHA256 || w.Size != r.SizeBytes {
		s.removeBytes(ctx, r.StorageKey)
		return fmt.Errorf("content of %s: sha256 %s, %d bytes; the resource says %s, %d bytes", r.ID, w.SHA256, w.Size, r.SHA256, r.SizeBytes)
	}
	return nil
}

// Export writes every resource of the account, or of all accounts when
// account is "", to w as JSON Lines, ordered by account, created_at and id,
// all from one snapshot of the database. each, when set, is called after
// each resource written.
func (s *Service) Export(ctx context.Context, account string, w io.Writer, each func()) error {
	return s.db.ExportResources(ctx, account, func(r resources.Resource) error {
		if err := resources.EncodeLine(w, r); err != nil {
			return err
		}
		if each != nil {
			each()
		}
		return nil
	})
}

// Count returns how many resources the account has, or all accounts when
// account is "".
func (s *Service) Count(ctx context.Context, account string) (int64, error) {
	return s.db.CountResources(ctx, account)
}
