package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"strconv"
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
	return contentResponse{ctx: ctx, res: r, params: req.Params, blobs: s.blobs}, nil
}

// maxRanges bounds the parts of a multi-range download, each of which opens
// a read of its own; a Range asking for more is ignored and the whole
// content sent, as RFC 9110 allows.
const maxRanges = 16

// contentResponse writes a resource's bytes. It implements the generated
// response interface itself because the status (200, 206, 304, 416) and
// headers depend on the request's Range and If-None-Match.
type contentResponse struct {
	ctx    context.Context
	res    store.Resource
	params gen.GetResourceContentParams
	blobs  *blobstore.Store
}

func (c contentResponse) VisitGetResourceContentResponse(w http.ResponseWriter) error {
	h := w.Header()
	before := h.Clone()
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
	if r := c.params.Range; r != nil && strings.Count(*r, ",") < maxRanges {
		req.Header.Set("Range", *r)
	}
	if c.params.IfNoneMatch != nil {
		req.Header.Set("If-None-Match", *c.params.IfNoneMatch)
	}
	body := &blobReader{ctx: c.ctx, blobs: c.blobs, key: c.res.StorageKey, size: c.res.SizeBytes}
	defer body.Close()
	cw := &contentWriter{ResponseWriter: w, body: body}
	http.ServeContent(cw, req, "", c.res.CreatedAt, body)
	if cw.unsent {
		// Nothing went out: the error handler answers, without the
		// headers of the content.
		clear(h)
		maps.Copy(h, before)
	}
	return body.err
}

// contentWriter is the ResponseWriter http.ServeContent writes to. Just
// before a 200 or a single-range 206 goes out, it opens the stored bytes for
// exactly the range the response carries, so that a storage failure is
// still an error response rather than a cut-off body; nothing is opened for
// a 304 or a 416. It also turns the plain-text errors ServeContent writes
// (416 for a range past the end, above all) into our {"error"} bodies.
type contentWriter struct {
	http.ResponseWriter
	body   *blobReader
	failed bool // an error status went out; its body becomes {"error"}
	unsent bool // opening the bytes failed; nothing goes out
}

func (cw *contentWriter) WriteHeader(code int) {
	h := cw.Header()
	switch {
	case code >= http.StatusBadRequest:
		cw.failed = true
		h.Set("Content-Type", "application/json")
		h.Del("Content-Length")
	// A multi-range 206 has no Content-Range of its own: its parts are
	// opened one by one as ServeContent reads them.
	case code == http.StatusOK || code == http.StatusPartialContent && h.Get("Content-Range") != "":
		length, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
		if err != nil {
			length = -1
		}
		if cw.body.open(length) != nil {
			cw.unsent = true
			return
		}
	}
	cw.ResponseWriter.WriteHeader(code)
}

func (cw *contentWriter) Write(p []byte) (int, error) {
	switch {
	case cw.unsent:
		return 0, cw.body.err
	case !cw.failed:
		return cw.ResponseWriter.Write(p)
	}
	body, err := json.Marshal(map[string]string{"error": strings.TrimSpace(string(p))})
	if err != nil {
		return 0, err
	}
	if _, err := cw.ResponseWriter.Write(body); err != nil {
		return 0, err
	}
	return len(p), nil
}

// blobReader is an io.ReadSeeker over stored bytes whose size the row
// already knows: seeking costs nothing, and the bytes are opened from the
// current offset by open, or else by the first Read.
type blobReader struct {
	ctx    context.Context
	blobs  *blobstore.Store
	key    string
	size   int64
	offset int64
	rc     io.ReadCloser
	err    error // the first storage error, which every later Read returns
}

// open opens length bytes from the current offset, to the end when length
// is negative. It returns the storage's error, also kept in b.err.
func (b *blobReader) open(length int64) error {
	if b.err != nil {
		return b.err
	}
	if length == 0 {
		length = -1 // the whole of empty content: S3 has no empty range
	}
	rc, err := b.blobs.NewRangeReader(b.ctx, b.key, b.offset, length)
	if err != nil {
		b.err = fmt.Errorf("read content %s: %w", b.key, err)
		return b.err
	}
	b.rc = rc
	return nil
}

func (b *blobReader) Read(p []byte) (int, error) {
	if b.rc == nil {
		if err := b.open(-1); err != nil {
			return 0, err
		}
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
