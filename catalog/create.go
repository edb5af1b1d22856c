package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/urlfetch"
)

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
	// link is the upload link a draft of NewLinkDraft creates through;
	// admitted, once set, the directory_path that one of its uses was
	// taken for.
	link     *resources.UploadLink
	admitted string
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

// NewLinkDraft starts a resource created by the holder of l: of l's
// account, created by l (l.Subject()), carrying l's tags besides any
// given, and within l's rules, each checked before a byte is taken: Admit
// (or Create, for a uri) checks the directory_path and takes one of l's
// uses, PutContent the media type, and the content is cut off at l's
// MaxBytes. The caller must call Discard when done with it, which gives
// the use back unless Create succeeded.
func (s *Service) NewLinkDraft(l resources.UploadLink) *Draft {
	d := s.NewDraft(l.AccountID, l.Subject())
	l.MaxBytes = min(l.MaxBytes, s.maxContent)
	d.link = &l
	return d
}

// Admit checks, for a draft of NewLinkDraft, that dir is where its link
// lets it create, and takes one of the link's uses (an error matching
// resources.ErrNotFound when none is left). Content must wait for it. A
// draft of NewDraft admits anything.
func (d *Draft) Admit(ctx context.Context, dir string) error {
	switch {
	case d.link == nil:
		return nil
	case d.admitted != "":
		if dir != d.admitted {
			return resources.Invalid("directory_path", "must be the one %s was admitted for", d.admitted)
		}
		return nil
	}
	if err := d.s.reserve(ctx, *d.link, dir); err != nil {
		return err
	}
	d.admitted = dir
	return nil
}

// PutContent streams data into storage as the draft's content, hashing and
// counting it on the way, up to MaxContentBytes. mediaType is "" when the
// bytes must be sniffed. An error from data is returned as is, within the
// chain.
func (d *Draft) PutContent(ctx context.Context, data io.Reader, mediaType string) error {
	return d.putContent(ctx, data, mediaType, d.s.maxContent)
}

// putContent is PutContent up to limit bytes, or the link's MaxBytes for a
// link's draft.
func (d *Draft) putContent(ctx context.Context, data io.Reader, mediaType string, limit int64) error {
	if d.content != nil {
		return &resources.Error{Kind: resources.ErrInvalid, Field: "content", Reason: "is given twice"}
	}
	if d.link != nil {
		if d.admitted == "" {
			return resources.Invalid("directory_path", "must be given before content with an upload link")
		}
		if err := d.link.CheckType(mediaType); err != nil {
			return err
		}
		limit = d.link.MaxBytes
	}
	w, err := d.s.blobs.Put(ctx, d.key, data, limit, mediaType)
	if d.link != nil && errors.Is(err, blobstore.ErrTooLarge) {
		return d.link.TooLarge(err)
	}
	if errors.Is(err, blobstore.ErrTooLarge) {
		return &resources.Error{Kind: resources.ErrTooLarge, Reason: fmt.Sprintf("content is larger than %d bytes", limit), Err: err}
	}
	if err != nil {
		return d.s.bytesError(err)
	}
	d.content = &content{Written: w, mediaType: mediaType}
	return nil
}

// Create checks f, fetches the content from f.URI when given, and writes
// the resource's row. Its content is either given to PutContent before or
// fetched from f.URI: exactly one of the two. It returns the resource as
// stored.
func (d *Draft) Create(ctx context.Context, f resources.Fields) (resources.Resource, error) {
	r, err := d.resource(f)
	if err != nil {
		return resources.Resource{}, err
	}
	if err := d.Admit(ctx, r.DirectoryPath); err != nil {
		return resources.Resource{}, err
	}
	if f.URI != nil {
		if err := d.fetch(ctx, *f.URI); err != nil {
			return resources.Resource{}, err
		}
	}
	r.SHA256, r.SizeBytes, r.MimeType = d.content.SHA256, d.content.Size, d.content.mediaType
	if r.MimeType == "" {
		r.MimeType = http.DetectContentType(d.content.Head)
	}
	if err := d.s.db.CreateResource(ctx, r); err != nil {
		return resources.Resource{}, err
	}
	d.created = true
	return r, nil
}

// Discard removes the draft's bytes, and gives back the use of its upload
// link, unless Create wrote its row.
func (d *Draft) Discard(ctx context.Context) {
	if d.created {
		return
	}
	if d.content != nil {
		d.s.removeBytes(ctx, d.key)
	}
	if d.admitted != "" {
		d.s.ReleaseUpload(ctx, *d.link)
	}
}

// resource checks everything about f that needs no I/O and fills in what
// the server decides.
func (d *Draft) resource(f resources.Fields) (resources.Resource, error) {
	if (d.content == nil) == (f.URI == nil) {
		return resources.Resource{}, resources.Invalid("content and uri", "give exactly one of the two")
	}
	if d.link != nil {
		f.Tags = append(slices.Clone(f.Tags), d.link.Tags...)
	}
	f, err := f.Normalize()
	if err != nil {
		return resources.Resource{}, err
	}
	now := resources.Timestamp(d.s.now())
	r := resources.Resource{
		ID: d.id, AccountID: d.account, Name: f.Name, DirectoryPath: f.DirectoryPath,
		OriginalURI: f.URI, StorageBucket: d.s.blobs.Bucket(), StorageKey: d.key,
		Tags: f.Tags, Metadata: f.Metadata, CreatedAt: now, UpdatedAt: now,
	}
	if d.subject != "" {
		r.CreatedBy = &d.subject
	}
	return r, nil
}

// fetch streams the bytes at uri into storage as the draft's content, up
// to MaxUploadBytes (a link's MaxBytes for a link's draft): the bytes never
// pass through a request body, whose base64 MaxContentBytes bounds, and Put
// holds a part at a time, not the content.
func (d *Draft) fetch(ctx context.Context, uri string) error {
	rc, mediaType, err := d.s.fetcher.Fetch(ctx, uri)
	if err != nil {
		// The fetcher's messages are written to be shown: "uri: host not found".
		return &resources.Error{Kind: resources.ErrInvalid, Field: "uri", Reason: strings.TrimPrefix(err.Error(), "uri: "), Err: err}
	}
	defer rc.Close()
	if n := urlfetch.ContentLength(rc); d.link != nil {
		if err := d.link.CheckSize(n); err != nil {
			return err
		}
	} else if n > d.s.maxUpload {
		return &resources.Error{Kind: resources.ErrTooLarge, Field: "uri",
			Reason: fmt.Sprintf("declares %d bytes, more than the %d a resource may hold", n, d.s.maxUpload),
			Err:    fmt.Errorf("%s declares %d bytes: %w", uri, n, blobstore.ErrTooLarge)}
	}
	return d.putContent(ctx, rc, mediaType, d.s.maxUpload)
}
