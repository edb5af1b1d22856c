package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/re-factor/resources/blobstore/blobtest"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

// fuzzHandler is the echo instance main builds, on SQLite with a few
// resources, served in-process so a fuzz run spends its time in our code
// rather than in TCP.
func fuzzHandler(f *testing.F) (http.Handler, string) {
	f.Helper()
	db := storetest.Open(f, store.SQLite)
	storetest.MustImport(f, db,
		storetest.NewResource("acct", 1, storetest.Tagged("a", "b"), storetest.In("/docs")),
		storetest.NewResource("acct", 2, storetest.In("/docs/%_")),
		storetest.NewResource("other", 3, storetest.Tagged("a")))
	h := newHandler(f, db, blobtest.Open(f, "file"), nil)
	return h, mustToken(f, "acct", rwScope)
}

// serveFuzz sends one request in-process and checks what must hold for any
// input: no 5xx, a JSON body, an {"error"} body on failure.
func serveFuzz(t *testing.T, h http.Handler, token, target string) *httptest.ResponseRecorder {
	t.Helper()
	req := serverRequest(t, target)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("GET %q = %d %s", target, rec.Code, rec.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil && rec.Header().Get("Content-Type") == "application/json" {
		t.Fatalf("GET %q: body is not JSON: %s", target, rec.Body)
	}
	if rec.Code >= 400 {
		if msg, ok := body["error"].(string); !ok || msg == "" || len(body) != 1 {
			t.Fatalf("GET %q = %d with body %s, want {\"error\"}", target, rec.Code, rec.Body)
		}
	}
	return rec
}

// FuzzListQuery sends any raw query string through the whole router:
// validation, parsing and the SQL behind it. Only 200 or 400 may come
// back, and a 200 holds only the caller's resources.
func FuzzListQuery(f *testing.F) {
	h, tok := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, rawQuery string) {
		u := url.URL{Path: "/v1/resources", RawQuery: rawQuery}
		rec := serveFuzz(t, h, tok, u.String())
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("?%s = %d %s, want 200 or 400", rawQuery, rec.Code, rec.Body)
		}
		if rec.Code == http.StatusOK && bytes.Contains(rec.Body.Bytes(), []byte(`"other"`)) {
			t.Fatalf("?%s leaked another account's resource: %s", rawQuery, rec.Body)
		}
	})
}

// FuzzItemPath puts any text where an id goes.
func FuzzItemPath(f *testing.F) {
	h, tok := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, id string) {
		rec := serveFuzz(t, h, tok, "/v1/resource/"+id)
		if rec.Code == http.StatusOK && bytes.Contains(rec.Body.Bytes(), []byte(`"other"`)) {
			t.Fatalf("%q leaked another account's resource: %s", id, rec.Body)
		}
	})
}

// serverRequest builds the request as the server would have read it off
// the wire, skipping targets that could never arrive there.
func serverRequest(t *testing.T, target string) (req *http.Request) {
	t.Helper()
	if _, err := url.ParseRequestURI(target); err != nil || strings.ContainsAny(target, " \r\n") {
		t.Skip("not a request target net/http would read")
	}
	defer func() {
		if recover() != nil {
			t.Skip("not a request target net/http would read")
		}
	}()
	return httptest.NewRequest(http.MethodGet, target, nil)
}
