package server_test

import (
	"io"
	"net/http"
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
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read body of %s %s: %v", method, path, err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: body}
	checkCommon(e.t, method+" "+path, r)
	return r
}
