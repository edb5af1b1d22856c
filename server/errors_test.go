package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/re-factor/resources/internal/testkit"
	"github.com/re-factor/resources/server"
	"github.com/re-factor/resources/urlfetch"
)

// TestClientErrorBodies checks the {"error"} message of every kind of 4xx:
// each names what was wrong in the client's terms, and none carries an
// internal chain (a package's prefix, an account, a storage key).
func TestClientErrorBodies(t *testing.T) {
	e := newEnvWith(t, "sqlite", func(c config) {
		c.Catalog.MaxContentBytes = 1024
		c.Catalog.Fetcher = urlfetch.New(urlfetch.Config{})
	})
	tok := rwToken(t, "acct")
	id := e.mustCreate(tok, map[string]any{"name": "a.txt", "directory_path": "/d", "content": dataURL("text/plain", []byte("a"))})["id"].(string)
	const missing = "7a4bb1b9-6f6b-4f32-8d5f-38f3c4b1a001"
	json := http.Header{"Content-Type": {"application/json"}}
	tests := []struct {
		name         string
		method, path string
		token        string
		header       http.Header
		body         string
		status       int
		says         string
	}{
		{"spec rule", http.MethodPut, "/v1/resource/" + id, tok, json, `{"name":""}`, 400, "request body: name: must not be empty"},
		{"prose rule", http.MethodPut, "/v1/resource/" + id, tok, json, `{"metadata":{"a":"\u0000"}}`, 400, `request body: metadata: must not contain \u0000`},
		{"neither content nor uri", http.MethodPost, "/v1/resources", tok, json, `{"name":"b","directory_path":"/"}`, 400, "request body: content and uri: give exactly one of the two"},
		{"uri refused", http.MethodPost, "/v1/resources", tok, json, `{"name":"b","directory_path":"/","uri":"http://127.0.0.1:1/"}`, 400, "request body: uri: host resolves to a non-public address (loopback)"},
		{"foreign cursor", http.MethodGet, "/v1/resources?cursor=AAAA", tok, nil, "", 400, `query parameter "cursor": is not a cursor this list returned for these filters and page_size`},
		{"no token", http.MethodGet, "/v1/resource/" + id, "", nil, "", 401, "missing Authorization header"},
		{"read-only token", http.MethodDelete, "/v1/resource/" + id, readToken(t, "acct"), nil, "", 403, "forbidden: token lacks the resources:write scope"},
		{"missing resource", http.MethodGet, "/v1/resource/" + missing, tok, nil, "", 404, "resource not found"},
		{"another account's", http.MethodPut, "/v1/resource/" + id, rwToken(t, "other"), json, `{"name":"c"}`, 404, "resource not found"},
		{"no such route", http.MethodGet, "/v2/nothing", tok, nil, "", 404, "no matching operation was found"},
		{"taken path", http.MethodPost, "/v1/resources", tok, json, `{"name":"a.txt","directory_path":"/d","content":"` + dataURL("text/plain", []byte("b")) + `"}`, 409, `"/d/a.txt" already exists`},
		{"content too large", http.MethodPost, "/v1/resources", tok, json, `{"name":"b","directory_path":"/","content":"` + dataURL("text/plain", make([]byte, 1025)) + `"}`, 413, "content is larger than 1024 bytes"},
		{"not JSON", http.MethodPut, "/v1/resource/" + id, tok, http.Header{"Content-Type": {"text/plain"}}, `x`, 415, "request body must be JSON: send Content-Type: application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkClientError(t, e.doBody(tt.method, tt.path, tt.token, tt.header, []byte(tt.body)), tt.status, tt.says)
		})
	}
	t.Run("undeclared body past the limit", func(t *testing.T) {
		// No Content-Length: the limit is found while the validator reads.
		body := `{"metadata":{"a":"` + strings.Repeat("x", 1<<20) + `"}}`
		req, err := http.NewRequest(http.MethodPut, e.url+"/v1/resource/"+id, io.MultiReader(strings.NewReader(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		var r response
		r.status, r.header, r.body = testkit.Send(t, req)
		checkClientError(t, r, 413, "request body is larger than 1048576 bytes")
	})
	t.Run("rate", func(t *testing.T) {
		e := newEnvWith(t, "sqlite", func(c config) { c.RateLimit = server.RateLimit{RPS: 0.001, Burst: 1} })
		e.get("/v1/resources", tok)
		checkClientError(t, e.get("/v1/resources", tok), 429, "rate limit exceeded for this account; retry after the Retry-After seconds")
	})
}

func checkClientError(t *testing.T, r response, status int, says string) {
	t.Helper()
	msg := r.errorMessage(t)
	if r.status != status || msg != says {
		t.Errorf("%d %q, want %d %q", r.status, msg, status, says)
	}
	for _, internal := range []string{"store:", "blobstore:", "upload:", "acct", "\n"} {
		if strings.Contains(msg, internal) {
			t.Errorf("message %q carries %q", msg, internal)
		}
	}
}
