// Package spectest checks HTTP responses against openapi.yaml and the
// vendor's published file, as a client generated from either would read
// them. The server's own tests and the end-to-end tests of Prism's mock use
// the same checks.
package spectest

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/re-factor/resources/gen"
)

// Spec is one document responses are checked against.
type Spec struct {
	Name   string
	Doc    *openapi3.T
	router routers.Router
	// Must makes a route or status the document does not declare an error;
	// the published file declares only the list and not its 400.
	Must bool
}

// New prepares doc for checking, matching requests to any host.
func New(name string, doc *openapi3.T, must bool) (*Spec, error) {
	doc.Servers = nil
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &Spec{Name: name, Doc: doc, router: r, Must: must}, nil
}

// Load reads the document at path and prepares it with New.
func Load(name, path string, must bool) (*Spec, error) {
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err != nil {
		return nil, err
	}
	return New(name, doc, must)
}

// Check fails tb unless the response to req (status, header, body) is one
// the document declares, in the form it declares.
func (s *Spec) Check(tb testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	tb.Helper()
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		if s.Must && status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
			tb.Errorf("%s: %s %s is not in the spec: %v", s.Name, req.Method, req.URL.Path, err)
		}
		return
	}
	if route.Operation.Responses.Status(status) == nil {
		if s.Must && status < 500 && status != http.StatusMethodNotAllowed {
			tb.Errorf("%s: %s %s answered %d, which the spec does not declare", s.Name, req.Method, req.URL.Path, status)
		}
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status:  status,
		Header:  header,
		Body:    io.NopCloser(strings.NewReader(string(body))),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		tb.Errorf("%s: response to %s %s (%d) breaks the spec: %v\nbody: %.500s", s.Name, req.Method, req.URL.String(), status, err, body)
	}
}

// DataURLPattern is the DataURL schema's pattern in the embedded spec: the
// grammar of a create's content, which the request validator leaves to the
// streamed create (upload.Decode) and its fuzz tests hold it to.
func DataURLPattern(tb testing.TB) *regexp.Regexp {
	tb.Helper()
	spec, err := gen.GetSpec()
	if err != nil {
		tb.Fatal(err)
	}
	return regexp.MustCompile(spec.Components.Schemas["DataURL"].Value.Pattern)
}
