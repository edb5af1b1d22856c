package server

import (
	"context"
	"encoding/json"
	"maps"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/catalog"
	"github.com/re-factor/resources/gen"
)

// GetResourceContent serves GET (and HEAD) /v1/resource/{id}/content: the
// stored bytes, with ranges and conditional requests handled by
// http.ServeContent; a HEAD opens nothing.
func (s *Server) GetResourceContent(ctx context.Context, req gen.GetResourceContentRequestObject) (gen.GetResourceContentResponseObject, error) {
	account, err := accountOf(ctx)
	if err != nil {
		return nil, err
	}
	r, body, err := s.catalog.Download(ctx, account, req.Id.String())
	if err != nil {
		return nil, err
	}
	disposition := gen.Attachment
	if req.Params.Disposition != nil {
		disposition = *req.Params.Disposition
	}
	return contentResponse{ctx: ctx, res: r, body: body, disposition: string(disposition),
		rangeHeader: req.Params.Range, ifNoneMatch: req.Params.IfNoneMatch, head: isHead(ctx)}, nil
}

// maxRanges bounds the parts of a multi-range download, each of which opens
// a read of its own; a Range asking for more is ignored and the whole
// content sent, as RFC 9110 allows.
const maxRanges = 16

// contentResponse writes a resource's bytes, for /content and for download
// links alike. It implements the generated response interfaces itself
// because the status (200, 206, 304, 416) and headers depend on the
// request's Range and If-None-Match.
type contentResponse struct {
	ctx                      context.Context
	res                      resources.Resource
	body                     *catalog.Content
	disposition              string
	rangeHeader, ifNoneMatch *string
	head                     bool // headers only: nothing is opened or spent
	// spend, when set, is called once the bytes of a 200 or 206 are
	// open, just before its status goes out: a download link's use. Its
	// error is answered instead of the bytes.
	spend func() error
	// viaLink adds what a response to a link's URL needs besides.
	viaLink bool
}

func (c contentResponse) VisitGetResourceContentResponse(w http.ResponseWriter) error {
	return c.write(w)
}

func (c contentResponse) write(w http.ResponseWriter) error {
	h := w.Header()
	before := h.Clone()
	h.Set("Content-Type", c.res.MimeType)
	h.Set("ETag", `"`+c.res.SHA256+`"`)
	h.Set("Content-Disposition", mime.FormatMediaType(c.disposition, map[string]string{"filename": c.res.Name}))
	// Stored HTML or SVG opened from this origin would run with its
	// authority: the sandbox gives the document an origin of its own and no
	// script, however the browser comes to render it.
	h.Set("Content-Security-Policy", "sandbox")
	if c.viaLink {
		// The URL holds the token: a document shown inline must not hand
		// it to the hosts it loads from.
		h.Set("Referrer-Policy", "no-referrer")
	}
	// ServeContent reads the conditional and range headers from a request;
	// the validated parameters are the only ones that reach the handler.
	method := http.MethodGet
	if c.head {
		method = http.MethodHead
	}
	req, err := http.NewRequestWithContext(c.ctx, method, "/", nil)
	if err != nil {
		return err
	}
	if r := c.rangeHeader; r != nil && strings.Count(*r, ",") < maxRanges {
		req.Header.Set("Range", *r)
	}
	if c.ifNoneMatch != nil {
		req.Header.Set("If-None-Match", *c.ifNoneMatch)
	}
	defer c.body.Close()
	cw := &contentWriter{ResponseWriter: w, body: c.body, head: c.head, spend: c.spend}
	http.ServeContent(cw, req, "", c.res.CreatedAt, c.body)
	if cw.unsent != nil {
		// Nothing went out: the error handler answers, without the
		// headers of the content.
		clear(h)
		maps.Copy(h, before)
		return cw.unsent
	}
	return c.body.Err()
}

// contentWriter is the ResponseWriter http.ServeContent writes to. Just
// before a 200 or a single-range 206 goes out, it opens the stored bytes for
// exactly the range the response carries, so that a storage failure is
// still an error response rather than a cut-off body, and then spends a
// link's use when one is due; nothing is opened or spent for a HEAD, a 304
// or a 416. It also turns the plain-text errors ServeContent writes (416
// for a range past the end, above all) into our {"error"} bodies.
type contentWriter struct {
	http.ResponseWriter
	body   *catalog.Content
	head   bool
	spend  func() error
	failed bool  // an error status went out; its body becomes {"error"}
	unsent error // why nothing goes out: opening the bytes or spending failed
}

func (cw *contentWriter) WriteHeader(code int) {
	switch {
	case code >= http.StatusBadRequest:
		cw.failed = true
		cw.Header().Set("Content-Type", "application/json")
		cw.Header().Del("Content-Length")
	case !cw.head && (code == http.StatusOK || code == http.StatusPartialContent):
		if cw.unsent = cw.send(code); cw.unsent != nil {
			return
		}
	}
	cw.ResponseWriter.WriteHeader(code)
}

// send readies the bytes of a 200 or 206 about to go out: it opens them,
// unless the 206 has several parts (no Content-Range of its own: its parts
// are opened one by one as ServeContent reads them), then spends a use.
func (cw *contentWriter) send(code int) error {
	if code == http.StatusOK || cw.Header().Get("Content-Range") != "" {
		length, err := strconv.ParseInt(cw.Header().Get("Content-Length"), 10, 64)
		if err != nil {
			length = -1
		}
		if err := cw.body.Open(length); err != nil {
			return err
		}
	}
	if cw.spend == nil {
		return nil
	}
	if err := cw.spend(); err != nil {
		cw.body.Close()
		return err
	}
	return nil
}

func (cw *contentWriter) Write(p []byte) (int, error) {
	switch {
	case cw.unsent != nil:
		return 0, cw.unsent
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
