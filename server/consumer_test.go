package server_test

import (
	"net/http"

	"github.com/re-factor/resources/internal/testkit"
)

// getRaw is get for what the spec cannot check: routes outside it (metrics,
// the reference page's assets) and bodies that are not JSON.
func (e *env) getRaw(path string) response {
	e.t.Helper()
	return e.raw(http.MethodGet, path, nil)
}

// options sends a CORS preflight, which no spec declares.
func (e *env) options(path string, header http.Header) response {
	e.t.Helper()
	return e.raw(http.MethodOptions, path, header)
}

func (e *env) raw(method, path string, header http.Header) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, nil)
	if err != nil {
		e.t.Fatalf("new request %s %s: %v", method, path, err)
	}
	req.Header = header
	var r response
	r.status, r.header, r.body = testkit.Send(e.t, req)
	checkCommon(e.t, method+" "+path, r)
	return r
}
