package server

import (
	"context"
	"encoding/json"
	"maps"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/re-factor/resources/gen"
	"github.com/re-factor/resources/resources"
	"github.com/re-factor/resources/store"
)

// GetResourceContent serves GET /v1/resource/{id}/content: the stored bytes,
// with ranges and conditional requests handled by http.ServeContent.
func (s *Server) GetResourceContent(ctx context.Context, req gen.GetResourceContentRequestObject) (gen.GetResourceContentResponseObject, error) {
	account, err := accountOf(ctx)
	if err != nil {
		return nil, err
	}
	r, body, err := s.resources.Download(ctx, account, req.Id.String())
	if err != nil {
		return nil, err
	}
	return contentResponse{ctx: ctx, res: r, params: req.Params, body: body}, nil
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
	body   *resources.Content
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
	defer c.body.Close()
	cw := &contentWriter{ResponseWriter: w, body: c.body}
	http.ServeContent(cw, req, "", c.res.CreatedAt, c.body)
	if cw.unsent {
		// Nothing went out: the error handler answers, without the
		// headers of the content.
		clear(h)
		maps.Copy(h, before)
	}
	return c.body.Err()
}

// contentWriter is the ResponseWriter http.ServeContent writes to. Just
// before a 200 or a single-range 206 goes out, it opens the stored bytes for
// exactly the range the response carries, so that a storage failure is
// still an error response rather than a cut-off body; nothing is opened for
// a 304 or a 416. It also turns the plain-text errors ServeContent writes
// (416 for a range past the end, above all) into our {"error"} bodies.
type contentWriter struct {
	http.ResponseWriter
	body   *resources.Content
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
		if cw.body.Open(length) != nil {
			cw.unsent = true
			return
		}
	}
	cw.ResponseWriter.WriteHeader(code)
}

func (cw *contentWriter) Write(p []byte) (int, error) {
	switch {
	case cw.unsent:
		return 0, cw.body.Err()
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
