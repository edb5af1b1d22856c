package tusupload

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/catalog"
)

// store is tusd's data store over the catalog: every call finds the
// caller's account in its context, so an upload of another account is
// one that does not exist.
type store struct{ h *Handler }

var (
	_ handler.DataStore               = (*store)(nil)
	_ handler.TerminaterDataStore     = (*store)(nil)
	_ handler.LengthDeferrerDataStore = (*store)(nil)
)

// upload is one upload, as a request sees it.
type upload struct {
	h      *Handler
	caller Caller
	u      resources.Upload
}

// NewUpload starts an upload with the resource's fields in info's
// metadata, every rule checked before a byte is taken.
func (s *store) NewUpload(ctx context.Context, info handler.FileInfo) (handler.Upload, error) {
	c, err := s.h.cfg.Caller(ctx)
	if err != nil {
		return nil, s.h.fail(ctx, err)
	}
	spec, err := specOf(info)
	if err != nil {
		return nil, s.h.fail(ctx, err)
	}
	u, err := s.h.cfg.Catalog.CreateUpload(ctx, c.Account, c.Subject, c.Link, spec)
	if err != nil {
		return nil, s.h.fail(ctx, err)
	}
	stateOf(ctx).expires = u.ExpiresAt
	return &upload{h: s.h, caller: c, u: u}, nil
}

// specOf reads the resource's fields from the upload's metadata, taking
// filename and filetype, which tus-js-client and Uppy send, for name and
// mime_type. Other keys are ignored: clients add their own.
func specOf(info handler.FileInfo) (catalog.UploadSpec, error) {
	m := info.MetaData
	spec := catalog.UploadSpec{Length: info.Size, SHA256: m["sha256"], MimeType: first(m["mime_type"], m["filetype"]),
		Fields: resources.Fields{Name: first(m["name"], m["filename"]), DirectoryPath: m["directory_path"]}}
	if info.SizeIsDeferred {
		spec.Length = -1
	}
	if tags := m["tags"]; tags != "" {
		spec.Fields.Tags = strings.Split(tags, ",")
	}
	if md := m["metadata"]; md != "" {
		if !json.Valid([]byte(md)) {
			return catalog.UploadSpec{}, resources.Invalid("metadata", "must be a JSON object")
		}
		spec.Fields.Metadata = json.RawMessage(md)
	}
	return spec, nil
}

// first returns the first of values that is not empty.
func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// GetUpload returns the caller's upload id.
func (s *store) GetUpload(ctx context.Context, id string) (handler.Upload, error) {
	c, err := s.h.cfg.Caller(ctx)
	if err != nil {
		return nil, s.h.fail(ctx, err)
	}
	u, err := s.h.cfg.Catalog.GetUpload(ctx, c.Account, id)
	if err != nil {
		return nil, s.h.fail(ctx, err)
	}
	if !u.Done() {
		stateOf(ctx).expires = u.ExpiresAt
	}
	return &upload{h: s.h, caller: c, u: u}, nil
}

func (s *store) AsTerminatableUpload(u handler.Upload) handler.TerminatableUpload { return u.(*upload) }

func (s *store) AsLengthDeclarableUpload(u handler.Upload) handler.LengthDeclarableUpload {
	return u.(*upload)
}

// GetInfo describes the upload to tusd; a finished one holds all its
// bytes.
func (up *upload) GetInfo(context.Context) (handler.FileInfo, error) {
	u := up.u
	info := handler.FileInfo{ID: u.ID, Size: max(u.Length, 0), SizeIsDeferred: u.Length < 0, Offset: u.Offset,
		MetaData: handler.MetaData{"name": u.Fields.Name, "directory_path": u.Fields.DirectoryPath}}
	if u.MimeType != "" {
		info.MetaData["mime_type"] = u.MimeType
	}
	return info, nil
}

// WriteChunk stores src's bytes, under the lease the request holds.
func (up *upload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	if offset != up.u.Offset {
		return 0, handler.ErrMismatchOffset
	}
	holder := stateOf(ctx).holder
	if holder == "" {
		return 0, errors.New("tusupload: a chunk reached the store without the upload's lease")
	}
	next, n, err := up.h.cfg.Catalog.WriteUpload(ctx, up.u, up.caller.Link, holder, src)
	up.u = next
	stateOf(ctx).expires = next.ExpiresAt
	if err != nil {
		var te handler.Error
		if errors.As(err, &te) {
			// The body's own failure (cut short, too long): tusd words it.
			return n, err
		}
		return n, up.h.fail(ctx, err)
	}
	return n, nil
}

// GetReader is not served: the resource's content route serves the bytes.
func (up *upload) GetReader(context.Context) (io.ReadCloser, error) {
	return nil, handler.ErrNotImplemented
}

// FinishUpload makes the upload its resource.
func (up *upload) FinishUpload(ctx context.Context) error {
	_, err := up.h.cfg.Catalog.CompleteUpload(ctx, up.u)
	if err == nil {
		// A finished upload does not expire: its resource is there.
		stateOf(ctx).expires = time.Time{}
	}
	return up.h.fail(ctx, err)
}

// Terminate abandons the upload.
func (up *upload) Terminate(ctx context.Context) error {
	return up.h.fail(ctx, up.h.cfg.Catalog.TerminateUpload(ctx, up.u))
}

// DeclareLength sets the length of an upload created without one.
func (up *upload) DeclareLength(ctx context.Context, length int64) error {
	if err := up.h.cfg.Catalog.DeclareUploadLength(ctx, up.u, up.caller.Link, length); err != nil {
		return up.h.fail(ctx, err)
	}
	up.u.Length = length
	return nil
}
