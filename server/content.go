package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/gen"
	"github.com/re-factor/resources/store"
)

// GetResourceContent serves GET /v1/resource/{id}/content: the stored bytes,
// with ranges and conditional requests handled by http.ServeContent.
func (s *Server) GetResourceContent(ctx context.Context, req gen.GetResourceContentRequestObject) (gen.GetResourceContentResponseObject, error) {
	account, err := accountOf(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.db.GetResource(ctx, account, req.Id.String())
	if err != nil {
		return nil, err
	}
	if r.StorageBucket != s.blobs.Bucket() {
		return nil, fmt.Errorf("%w: the bytes of resource %s are in bucket %q, which this server does not serve",
			store.ErrNotFound, r.ID, r.StorageBucket)
	}
	body := &blobReader{ctx: ctx, blobs: s.blobs, key: r.StorageKey, size: r.SizeBytes}
	// Open before any header is written, so a storage failure is still a
	// proper error response rather than a cut-off body.
	if _, err := body.Read(nil); err != nil && !errors.Is(err, io.EOF) { // EOF: empty content (S3 says so at once)
		return nil, err
	}
	return contentResponse{ctx: ctx, res: r, params: req.Params, body: body}, nil
}

// contentResponse writes a resource's bytes. It implements the generated
// response interface itself because the status (200, 206, 304, 416) and
// headers depend on the request's Range and If-None-Match.
type contentResponse struct {
	ctx    context.Context
	res    store.Resource
	params gen.GetResourceContentParams
	body   *blobReader
}

func (c contentResponse) VisitGetResourceContentResponse(w http.ResponseWriter) error {
	defer c.body.Close()
	h := w.Header()
	h.Set("Content-Type", c.res.MimeType)
	h.Set("ETag", `"`+c.res.SHA256+`"`)
	disposition := gen.Attachment
	if c.params.Disposition != nil {
		disposition = *c.params.Disposition
	}
	h.Set("Content-Disposition", mime.FormatMediaType(string(disposition), map[string]string{"filename": c.res.Name}))
	// Stored HTML or SVG opened from this origin would run with its
	// authority: the sandbox gives the document an origin of its own and no
	// script, however the browser comes to render it.
	h.Set("Content-Security-Policy", "sandbox")
	// ServeContent reads the conditional and range headers from a request;
	// the validated parameters are the only ones that reach the handler.
	req, err := http.NewRequestWithContext(c.ctx, http.MethodGet, "/", nil)
	if err != nil {
		return err
	}
	if c.params.Range != nil {
		req.Header.Set("Range", *c.params.Range)
	}
	if c.params.IfNoneMatch != nil {
		req.Header.Set("If-None-Match", *c.params.IfNoneMatch)
	}
	http.ServeContent(&jsonErrors{ResponseWriter: w}, req, "", c.res.CreatedAt, c.body)
	return c.body.err
}

// jsonErrors turns the plain-text errors http.ServeContent writes (416 for
// a range past the end, above all) into our {"error"} bodies.
type jsonErrors struct {
	http.ResponseWriter
	failed bool
}

func (j *jsonErrors) WriteHeader(code int) {
	if code >= http.StatusBadRequest {
		j.failed = true
		j.Header().Set("Content-Type", "application/json")
		j.Header().Del("Content-Length")
	}
	j.ResponseWriter.WriteHeader(code)
}

func (j *jsonErrors) Write(p []byte) (int, error) {
	if !j.failed {
		return j.ResponseWriter.Write(p)
	}
	body, err := json.Marshal(map[string]string{"error": strings.TrimSpace(string(p))})
	if err != nil {
		return 0, err
	}
	if _, err := j.ResponseWriter.Write(body); err != nil {
		return 0, err
	}
	return len(p), nil
}

// blobReader is an io.ReadSeeker over stored bytes whose size the row
// already knows: seeking costs nothing, and reading opens one range read
// from the current offset.
type blobReader struct {
	ctx    context.Context
	blobs  *blobstore.Store
	key    string
	size   int64
	offset int64
	rc     io.ReadCloser
	err    error // the first storage error, reported after the response
}

func (b *blobReader) Read(p []byte) (int, error) {
	if b.rc == nil {
		rc, err := b.blobs.NewRangeReader(b.ctx, b.key, b.offset, -1)
		if err != nil {
			b.err = fmt.Errorf("read content %s: %w", b.key, err)
			return 0, b.err
		}
		b.rc = rc
	}
	n, err := b.rc.Read(p)
	b.offset += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		b.err = fmt.Errorf("read content %s: %w", b.key, err)
	}
	return n, err
}

func (b *blobReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += b.offset
	case io.SeekEnd:
		offset += b.size
	}
	if offset < 0 {
		return 0, errors.New("seek before start")
	}
	if offset != b.offset {
		b.Close()
		b.offset = offset
	}
	return offset, nil
}

func (b *blobReader) Close() error {
	if b.rc == nil {
		return nil
	}
	err := b.rc.Close()
	b.rc = nil
	return err
}
