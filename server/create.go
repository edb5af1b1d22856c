package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/catalog"
	"github.com/re-factor/resources/gen"
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
// Authenticated by an upload link's token, the draft is the link's, whose
// rules are checked before a byte of content is taken.
func (s *Server) createResource(c echo.Context) error {
	ctx := c.Request().Context()
	p, err := principalOf(ctx)
	if err != nil {
		return err
	}
	draft := s.catalog.NewDraft(p.AccountID, p.Subject)
	link, viaLink := UploadLinkOf(ctx)
	if viaLink {
		if err := limitLinkBody(c, link); err != nil {
			return err
		}
		draft = s.catalog.NewLinkDraft(link)
	}
	defer draft.Discard(ctx)
	err = s.create(c, draft, viaLink)
	if viaLink && errors.Is(err, resources.ErrNotFound) {
		// The link went (used up, expired, revoked) since it let the
		// request in.
		return errUploadLink()
	}
	return err
}

// create reads the body into draft, checks it and writes the resource.
func (s *Server) create(c echo.Context, draft *catalog.Draft, viaLink bool) error {
	ctx := c.Request().Context()
	doc, err := upload.Decode(c.Request().Body, upload.Options{Member: "content", FileRule: s.contentRule, MaxKept: maxKept}, func(f upload.File) error {
		if viaLink {
			if err := admit(ctx, draft, f.Before); err != nil {
				return err
			}
		}
		return draft.PutContent(ctx, f.Data, f.MediaType)
	})
	if err != nil {
		return bodyError(err)
	}
	body, err := s.validateCreate(c, doc)
	if err != nil {
		return err
	}
	fetched := func() {}
	if body.Uri != nil {
		fetched = liftDeadlines(c.Response())
	}
	r, err := draft.Create(ctx, createFields(body))
	fetched()
	if err != nil {
		return err
	}
	return resourceBody{&r}.VisitCreateResourceResponse(c.Response())
}

// answerAllowance is how long the answer to a uri create may take to
// write once its fetch is done.
const answerAllowance = 60 * time.Second

// liftDeadlines lifts the connection's read and write deadlines (sized
// for a body of MAX_CONTENT_BYTES) for a uri create, whose fetch streams
// up to MAX_UPLOAD_BYTES and may take longer: the fetcher ends it when the
// origin stalls. The read deadline must go too, since net/http ends the
// request's context when it passes while the handler runs. The function
// it returns, called once the fetch is done, gives the answer
// answerAllowance to be written. A writer that cannot (a test's
// recorder) keeps the deadlines it has.
func liftDeadlines(w http.ResponseWriter) (fetched func()) {
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Time{}) != nil || rc.SetWriteDeadline(time.Time{}) != nil {
		return func() {}
	}
	return func() { _ = rc.SetWriteDeadline(time.Now().Add(answerAllowance)) }
}

// limitLinkBody refuses, before reading it, a body larger than the
// content an upload link accepts can make, and cuts it off there.
func limitLinkBody(c echo.Context, l resources.UploadLink) error {
	r, limit := c.Request(), MaxBodyBytes(l.MaxBytes)
	if r.ContentLength > limit {
		return &echo.HTTPError{Code: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("request body is larger than %d bytes, the most an upload of this link can take", limit)}
	}
	r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
	return nil
}

// admit checks the directory_path of a create through an upload link,
// which must come before content in the body (before is what came), and
// takes one of the link's uses, before a byte of content is taken.
func admit(ctx context.Context, draft *catalog.Draft, before []byte) error {
	var fields struct {
		DirectoryPath *string `json:"directory_path"`
	}
	if json.Unmarshal(before, &fields) != nil || fields.DirectoryPath == nil {
		return resources.Invalid("directory_path", "must come before content in the body when an upload link is used")
	}
	return draft.Admit(ctx, *fields.DirectoryPath)
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
// spec, and decodes it.
func (s *Server) validateCreate(c echo.Context, doc []byte) (gen.ResourceCreate, error) {
	op, _ := s.validator.Operation(c)
	if err := s.validator.Body(c.Request().Context(), c.Request(), op, doc); err != nil {
		return gen.ResourceCreate{}, err
	}
	var body gen.ResourceCreate
	if err := json.Unmarshal(doc, &body); err != nil {
		return gen.ResourceCreate{}, badRequest("request body does not fit the ResourceCreate schema")
	}
	return body, nil
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
