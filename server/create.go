package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/gen"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/upload"
	"github.com/re-factor/resources/urlfetch"
)

// maxKept bounds the bodies of requests other than a create, and what a
// create's body holds besides the content's data: names, paths, tags,
// metadata (at most 64 KiB itself), a uri.
const maxKept = 1 << 20

// stored is content written under a new resource's key.
type stored struct {
	blobstore.Written
	mediaType string // "" when the bytes must be sniffed
}

// createResource serves POST /v1/resources from the raw body, which the
// strict handler would decode whole: the content's bytes stream into
// storage as the JSON is read, hashed and counted on the way, so an upload
// costs buffers, not its size. The other fields are checked against the
// spec once the body has been read. Bytes are written before the row and
// removed again if anything after them fails, so no row ever points at
// missing bytes; a crash in between leaves bytes for refactor gc.
func (s *Server) createResource(c echo.Context) error {
	ctx := c.Request().Context()
	p, err := principalOf(ctx)
	if err != nil {
		return err
	}
	id := uuid.NewString()
	key := blobstore.Key(p.AccountID, id)
	var content *stored
	created := false
	defer func() {
		if content != nil && !created {
			s.removeBytes(ctx, key)
		}
	}()
	doc, err := upload.Decode(c.Request().Body, upload.Options{Member: "content", FileRule: s.contentRule, MaxKept: maxKept}, func(f upload.File) error {
		w, err := s.blobs.Put(ctx, key, f.Data, s.maxContent, f.MediaType)
		if err == nil {
			content = &stored{Written: w, mediaType: f.MediaType}
		}
		return err
	})
	if err != nil {
		return s.bodyError(err)
	}
	body, err := s.validateCreate(ctx, c.Request(), doc)
	if err != nil {
		return err
	}
	r, err := s.newResource(p.AccountID, p.Subject, id, body)
	if err != nil {
		return err
	}
	if body.Uri != nil {
		if content, err = s.fetch(ctx, key, *body.Uri); err != nil {
			return s.bodyError(err)
		}
	}
	r.SHA256, r.SizeBytes, r.MimeType = content.SHA256, content.Size, content.mediaType
	if r.MimeType == "" {
		r.MimeType = http.DetectContentType(content.Head)
	}
	if err := s.db.CreateResource(ctx, r); err != nil {
		return err
	}
	created = true
	out, err := toAPIResource(&r)
	if err != nil {
		return err
	}
	return gen.CreateResource200JSONResponse(out).VisitCreateResourceResponse(c.Response())
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
func (s *Server) bodyError(err error) error {
	var invalid *upload.Error
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &invalid):
		return &echo.HTTPError{Code: statusOf(invalid), Message: "request body: " + invalid.Error()}
	case errors.As(err, &tooLarge):
		return &echo.HTTPError{Code: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("request body is larger than %d bytes", tooLarge.Limit)}
	case errors.Is(err, blobstore.ErrTooLarge):
		return &echo.HTTPError{Code: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("content is larger than %d bytes", s.maxContent)}
	case errors.Is(err, upload.ErrRead) && !errors.Is(err, context.Canceled):
		return &echo.HTTPError{Code: http.StatusBadRequest, Message: "request body could not be read to its end", Internal: err}
	}
	return err
}

// newResource checks everything about the request that needs no I/O and
// fills in what the server decides.
func (s *Server) newResource(account, subject, id string, body gen.ResourceCreate) (store.Resource, error) {
	if (body.Content == nil) == (body.Uri == nil) {
		return store.Resource{}, badRequest("request body: content and uri: give exactly one of the two")
	}
	if err := errors.Join(store.ValidateName(body.Name), store.ValidateDirectoryPath(body.DirectoryPath)); err != nil {
		return store.Resource{}, err
	}
	var tags []string
	if body.Tags != nil {
		tags = *body.Tags
	}
	tags, err := store.NormalizeTags(tags)
	if err != nil {
		return store.Resource{}, err
	}
	var metadata json.RawMessage
	if body.Metadata != nil {
		if metadata, err = store.ValidateMetadata(*body.Metadata); err != nil {
			return store.Resource{}, err
		}
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	r := store.Resource{
		ID: id, AccountID: account, Name: body.Name, DirectoryPath: body.DirectoryPath,
		OriginalURI: body.Uri, StorageBucket: s.blobs.Bucket(), StorageKey: blobstore.Key(account, id),
		Tags: tags, Metadata: metadata, CreatedAt: now, UpdatedAt: now,
	}
	if subject != "" {
		r.CreatedBy = &subject
	}
	return r, nil
}

// fetch streams the bytes at uri into storage under key.
func (s *Server) fetch(ctx context.Context, key, uri string) (*stored, error) {
	rc, mediaType, err := s.fetcher.Fetch(ctx, uri)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if n := urlfetch.ContentLength(rc); n > s.maxContent {
		return nil, fmt.Errorf("%s declares %d bytes: %w", uri, n, blobstore.ErrTooLarge)
	}
	w, err := s.blobs.Put(ctx, key, rc, s.maxContent, mediaType)
	if err != nil {
		return nil, err
	}
	return &stored{Written: w, mediaType: mediaType}, nil
}

// removeBytes deletes bytes whose row could not be written. A failure is
// logged and left to refactor gc.
func (s *Server) removeBytes(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.blobs.Delete(ctx, key); err != nil {
		s.log.WarnContext(ctx, "bytes left for refactor gc", "storage_key", key, "error", err.Error())
	}
}
