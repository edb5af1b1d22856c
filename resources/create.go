package resources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/urlfetch"
)

// Fields are what a client says about a new resource. Its content is
// either given to Draft.PutContent or fetched from URI: exactly one of the
// two.
type Fields struct {
	Name          string
	DirectoryPath string
	URI           *string
	Tags          []string
	Metadata      json.RawMessage // nil for none
}

// Draft is a resource being created. Its id, and so the key of its bytes,
// is fixed first, so that content can be stored while the rest of a
// request is still being read. The bytes are stored before the row; until
// Create has written the row, Discard removes them.
type Draft struct {
	s                *Service
	account, subject string
	id, key          string
	content          *content
	created          bool
}

// content is what was stored under a draft's key.
type content struct {
	blobstore.Written
	mediaType string // "" when the bytes must be sniffed
}

// NewDraft starts a resource of account, created by subject ("" for none).
// The caller must call Discard when done with it.
func (s *Service) NewDraft(account, subject string) *Draft {
	id := uuid.NewString()
	return &Draft{s: s, account: account, subject: subject, id: id, key: blobstore.Key(account, id)}
}

// PutContent streams data into storage as the draft's content, hashing and
// counting it on the way. mediaType is "" when the bytes must be sniffed.
// An error from data is returned as is, within the chain.
func (d *Draft) PutContent(ctx context.Context, data io.Reader, mediaType string) error {
	if d.content != nil {
		return &Error{Kind: ErrInvalid, Field: "content", Reason: "is given twice"}
	}
	w, err := d.s.blobs.Put(ctx, d.key, data, d.s.maxContent, mediaType)
	if err != nil {
		return d.s.describe(err, "")
	}
	d.content = &content{Written: w, mediaType: mediaType}
	return nil
}

// Create checks f, fetches the content from f.URI when given, and writes
// the resource's row. It returns the resource as stored.
func (d *Draft) Create(ctx context.Context, f Fields) (store.Resource, error) {
	r, err := d.resource(f)
	if err != nil {
		return store.Resource{}, d.s.describe(err, "")
	}
	if f.URI != nil {
		if err := d.fetch(ctx, *f.URI); err != nil {
			return store.Resource{}, err
		}
	}
	r.SHA256, r.SizeBytes, r.MimeType = d.content.SHA256, d.content.Size, d.content.mediaType
	if r.MimeType == "" {
		r.MimeType = http.DetectContentType(d.content.Head)
	}
	if err := d.s.db.CreateResource(ctx, r); err != nil {
		return store.Resource{}, d.s.describe(err, fmt.Sprintf("%q already exists", path.Join(r.DirectoryPath, r.Name)))
	}
	d.created = true
	return r, nil
}

// Discard removes the draft's bytes unless Create wrote its row.
func (d *Draft) Discard(ctx context.Context) {
	if d.content != nil && !d.created {
		d.s.removeBytes(ctx, d.key)
	}
}

// resource checks everything about f that needs no I/O and fills in what
// the server decides.
func (d *Draft) resource(f Fields) (store.Resource, error) {
	if (d.content == nil) == (f.URI == nil) {
		return store.Resource{}, &Error{Kind: ErrInvalid, Field: "content and uri", Reason: "give exactly one of the two"}
	}
	if err := errors.Join(store.ValidateName(f.Name), store.ValidateDirectoryPath(f.DirectoryPath)); err != nil {
		return store.Resource{}, err
	}
	tags, err := store.NormalizeTags(f.Tags)
	if err != nil {
		return store.Resource{}, err
	}
	var metadata json.RawMessage
	if f.Metadata != nil {
		if metadata, err = store.ValidateMetadata(f.Metadata); err != nil {
			return store.Resource{}, err
		}
	}
	now := d.s.now().UTC().Truncate(time.Microsecond)
	r := store.Resource{
		ID: d.id, AccountID: d.account, Name: f.Name, DirectoryPath: f.DirectoryPath,
		OriginalURI: f.URI, StorageBucket: d.s.blobs.Bucket(), StorageKey: d.key,
		Tags: tags, Metadata: metadata, CreatedAt: now, UpdatedAt: now,
	}
	if d.subject != "" {
		r.CreatedBy = &d.subject
	}
	return r, nil
}

// fetch streams the bytes at uri into storage as the draft's content.
func (d *Draft) fetch(ctx context.Context, uri string) error {
	rc, mediaType, err := d.s.fetcher.Fetch(ctx, uri)
	if err != nil {
		// The fetcher's messages are written to be shown: "uri: host not found".
		return &Error{Kind: ErrInvalid, Field: "uri", Reason: strings.TrimPrefix(err.Error(), "uri: "), Err: err}
	}
	defer rc.Close()
	if n := urlfetch.ContentLength(rc); n > d.s.maxContent {
		return d.s.describe(fmt.Errorf("%s declares %d bytes: %w", uri, n, blobstore.ErrTooLarge), "")
	}
	return d.PutContent(ctx, rc, mediaType)
}
