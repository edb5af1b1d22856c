package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"

	"github.com/re-factor/resources/gen"
	"github.com/re-factor/resources/resources"
	"github.com/re-factor/resources/upload"
)

// maxKept bounds the bodies of requests other than a create, and what a
// create's body holds besides the content's data: names, paths, tags,
// metadata (at most 64 KiB itself), a uri.
const maxKept = 1 << 20

// createResource serves POST /v1/resources from the raw body, which the
// strict handler would decode whole: the content's bytes stream into
// storage as the JSON is read, so an upload costs buffers, not its size.
// The other fields are checked against the spec once the body has been
// read; the draft then writes the row, or removes the bytes it stored.
func (s *Server) createResource(c echo.Context) error {
	ctx := c.Request().Context()
	p, err := principalOf(ctx)
	if err != nil {
		return err
	}
	draft := s.resources.NewDraft(p.AccountID, p.Subject)
	defer draft.Discard(ctx)
	doc, err := upload.Decode(c.Request().Body, upload.Options{Member: "content", FileRule: s.contentRule, MaxKept: maxKept}, func(f upload.File) error {
		return draft.PutContent(ctx, f.Data, f.MediaType)
	})
	if err != nil {
		return bodyError(err)
	}
	body, err := s.validateCreate(ctx, c.Request(), doc)
	if err != nil {
		return err
	}
	r, err := draft.Create(ctx, createFields(body))
	if err != nil {
		return err
	}
	return resourceBody{&r}.VisitCreateResourceResponse(c.Response())
}

// createFields reads the validated body into the domain's fields.
func createFields(body gen.ResourceCreate) resources.Fields {
	f := resources.Fields{Name: body.Name, DirectoryPath: body.DirectoryPath, URI: body.Uri}
	if body.Tags != nil {
		f.Tags = *body.Tags
	}
	if body.Metadata != nil {
		f.Metadata = *body.Metadata
	}
	return f
}

// CreateResource completes the generated strict interface. Requests never
// reach it: handlers.CreateResource serves the route with createResource.
func (s *Server) CreateResource(context.Context, gen.CreateResourceRequestObject) (gen.CreateResourceResponseObject, error) {
	return nil, errors.New("server: POST /v1/resources is served by createResource, not the strict handler")
}

// validateCreate checks what upload.Decode kept of the body against the
// spec's schema for it, with the request validator's options (so its
// messages read the same), and decodes it.
func (s *Server) validateCreate(ctx context.Context, req *http.Request, doc []byte) (gen.ResourceCreate, error) {
	in := &openapi3filter.RequestValidationInput{Request: withBody(req, doc), Route: s.createRoute, Options: &s.validation}
	if err := openapi3filter.ValidateRequestBody(ctx, in, s.createRoute.Operation.RequestBody.Value); err != nil {
		return gen.ResourceCreate{}, &echo.HTTPError{Code: http.StatusBadRequest, Message: "invalid request", Internal: err}
	}
	var body gen.ResourceCreate
	if err := json.Unmarshal(doc, &body); err != nil {
		return gen.ResourceCreate{}, badRequest("request body does not fit the ResourceCreate schema")
	}
	return body, nil
}

// withBody is a copy of req whose body is doc.
func withBody(req *http.Request, doc []byte) *http.Request {
	r := req.WithContext(req.Context())
	r.Body, r.ContentLength, r.GetBody = http.NoBody, 0, nil
	if len(doc) > 0 {
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(doc)), int64(len(doc))
	}
	return r
}

// bodyError puts what went wrong with a create's body or content in the
// client's words, without the storage's or the reader's internals.
func bodyError(err error) error {
	var invalid *upload.Error
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &invalid):
		return &echo.HTTPError{Code: statusOf(invalid), Message: "request body: " + invalid.Error()}
	case errors.As(err, &tooLarge):
		return &echo.HTTPError{Code: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("request body is larger than %d bytes", tooLarge.Limit)}
	case errors.Is(err, upload.ErrRead) && !errors.Is(err, context.Canceled):
		return &echo.HTTPError{Code: http.StatusBadRequest, Message: "request body could not be read to its end", Internal: err}
	}
	return err
}
