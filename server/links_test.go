package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/re-factor/resources/auth"
	"github.com/re-factor/resources/blobstore/blobtest"
	"github.com/re-factor/resources/catalog"
	"github.com/re-factor/resources/internal/testkit"
	"github.com/re-factor/resources/server"
	"github.com/re-factor/resources/store/storetest"
	"github.com/re-factor/resources/urlfetch"
)

// downloadLink is a download link as createDownloadLink answers it.
type downloadLink struct {
	ID           string `json:"id"`
	ResourceID   string `json:"resource_id"`
	URL          string `json:"url"`
	Disposition  string `json:"disposition"`
	MaxDownloads *int64 `json:"max_downloads"`
	Downloads    int64  `json:"downloads"`
	ExpiresAt    string `json:"expires_at"`
}

// share makes a download link to resource id with body, failing the test
// unless it is a 201.
func (e *env) share(token, id string, body map[string]any) downloadLink {
	e.t.Helper()
	r := e.send(http.MethodPost, "/v1/resource/"+id+"/links", token, body)
	return decodeAs[downloadLink](e.t, r, http.StatusCreated, "share "+id)
}

// path is the link's URL without the server's origin.
func (e *env) path(l downloadLink) string {
	e.t.Helper()
	p, ok := strings.CutPrefix(l.URL, e.url)
	if !ok {
		e.t.Fatalf("link URL %q is not on the server %s", l.URL, e.url)
	}
	return p
}

// links lists the resource's live links.
func (e *env) links(token, id string) []downloadLink {
	e.t.Helper()
	var list struct{ Items []downloadLink }
	e.getOK("/v1/resource/"+id+"/links", token, &list)
	return list.Items
}

// wantNoLink checks the one answer of a link that is not live.
func wantNoLink(t *testing.T, what string, r response) {
	t.Helper()
	if r.status != http.StatusNotFound || string(r.body) != `{"error":"link not found"}` {
		t.Errorf("%s: %d %s, want 404 link not found", what, r.status, r.body)
	}
}

func TestDownloadLinks(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		tok := rwToken(t, "acct")
		content := []byte("<p>hello through a link</p>\n")
		id := e.mustCreate(tok, map[string]any{"name": "page one.html", "directory_path": "/share",
			"content": dataURL("text/html", content)})["id"].(string)
		l := e.share(tok, id, map[string]any{"max_downloads": 3, "disposition": "inline", "expires_in": 600})
		if l.ResourceID != id || l.Disposition != "inline" || *l.MaxDownloads != 3 || l.Downloads != 0 ||
			!strings.HasPrefix(l.URL, e.url+"/v1/links/rfd_") {
			t.Fatalf("link = %+v", l)
		}
		path := e.path(l)

		got := e.get(path, "")
		if got.status != http.StatusOK || !bytes.Equal(got.body, content) {
			t.Fatalf("GET link: %d %q", got.status, got.body)
		}
		etag := `"` + sha(content) + `"`
		for h, v := range map[string]string{
			"Content-Type": "text/html", "Etag": etag, "Content-Length": fmt.Sprint(len(content)),
			"Content-Disposition": `inline; filename="page one.html"`, "Content-Security-Policy": "sandbox",
			"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
		} {
			if got.header.Get(h) != v {
				t.Errorf("%s: %q, want %q", h, got.header.Get(h), v)
			}
		}
		head := roundTrip(t, http.MethodHead, e.url+path, nil)
		notModified := e.do(http.MethodGet, path, "", http.Header{"If-None-Match": {etag}})
		ranged := e.do(http.MethodGet, path, "", http.Header{"Range": {"bytes=3-7"}})
		if head.status != http.StatusOK || len(head.body) != 0 || head.header.Get("Etag") != etag ||
			notModified.status != http.StatusNotModified || ranged.status != http.StatusPartialContent ||
			string(ranged.body) != string(content[3:8]) {
			t.Errorf("HEAD %d %q, If-None-Match %d, Range %d %q", head.status, head.body, notModified.status, ranged.status, ranged.body)
		}
		if ls := e.links(tok, id); len(ls) != 1 || ls[0].Downloads != 2 || ls[0].URL != "" {
			t.Errorf("links after a 200, a HEAD, a 304 and a 206: %+v, want one with 2 downloads and no url", ls)
		}
		if r := e.get(path, ""); r.status != http.StatusOK {
			t.Fatalf("third download: %d", r.status)
		}
		wantNoLink(t, "used up", e.get(path, ""))
		if r := roundTrip(t, http.MethodHead, e.url+path, nil); r.status != http.StatusNotFound || len(r.body) != 0 {
			t.Errorf("HEAD used up: %d %q", r.status, r.body)
		}
		if ls := e.links(tok, id); len(ls) != 0 {
			t.Errorf("a used-up link is listed: %+v", ls)
		}
		wantNoLink(t, "never existed", e.get("/v1/links/rfd_"+strings.Repeat("A", 43), ""))
		if r := e.get("/v1/links/rfd_short", ""); r.status != http.StatusBadRequest {
			t.Errorf("malformed token: %d %s, want 400", r.status, r.body)
		}

		revoked := e.share(tok, id, map[string]any{})
		if r := e.do(http.MethodDelete, "/v1/resource/"+id+"/links/"+revoked.ID, rwToken(t, "other"), nil); r.status != http.StatusNotFound {
			t.Errorf("another account revokes: %d", r.status)
		}
		if r := e.do(http.MethodDelete, "/v1/resource/"+id+"/links/"+revoked.ID, tok, nil); r.status != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		wantNoLink(t, "revoked", e.get(e.path(revoked), ""))
		if r := e.do(http.MethodDelete, "/v1/resource/"+id+"/links/"+revoked.ID, tok, nil); r.status != http.StatusNotFound {
			t.Errorf("revoke twice: %d", r.status)
		}

		last := e.share(tok, id, map[string]any{})
		if l := e.get(e.path(last), ""); l.header.Get("Content-Disposition") != `attachment; filename="page one.html"` {
			t.Errorf("default disposition: %q", l.header.Get("Content-Disposition"))
		}
		if r := e.do(http.MethodDelete, "/v1/resource/"+id, tok, nil); r.status != http.StatusNoContent {
			t.Fatal(r.status)
		}
		wantNoLink(t, "resource deleted", e.get(e.path(last), ""))
	})
}

func TestDownloadLinkRequests(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		tok := rwToken(t, "acct")
		id := e.mustCreate(tok, map[string]any{"name": "a.txt", "directory_path": "/",
			"content": dataURL("text/plain", []byte("a"))})["id"].(string)
		tests := []struct {
			name, token string
			body        any
			status      int
			msg         string
		}{
			{"read scope", readToken(t, "acct"), map[string]any{}, http.StatusForbidden, "resources:write"},
			{"no token", "", map[string]any{}, http.StatusUnauthorized, ""},
			{"another account's", rwToken(t, "other"), map[string]any{}, http.StatusNotFound, "resource not found"},
			{"too long", tok, map[string]any{"expires_in": 604801}, http.StatusBadRequest, "expires_in"},
			{"no downloads", tok, map[string]any{"max_downloads": 0}, http.StatusBadRequest, "max_downloads"},
			{"disposition", tok, map[string]any{"disposition": "open"}, http.StatusBadRequest, "disposition"},
			{"unknown field", tok, map[string]any{"url": "x"}, http.StatusBadRequest, "url"},
		}
		for _, tt := range tests {
			r := e.send(http.MethodPost, "/v1/resource/"+id+"/links", tt.token, tt.body)
			if r.status != tt.status || !strings.Contains(r.errorMessage(t), tt.msg) {
				t.Errorf("%s: %d %s, want %d naming %q", tt.name, r.status, r.body, tt.status, tt.msg)
			}
		}
		if r := e.get("/v1/resource/"+id+"/links", readToken(t, "other")); r.status != http.StatusNotFound {
			t.Errorf("another account lists: %d", r.status)
		}
	})
}

// TestDownloadLinkCountsExactly: 32 parallel downloads of a 5-use link,
// exactly 5 of them 200.
func TestDownloadLinkCountsExactly(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		tok := rwToken(t, "acct")
		id := e.mustCreate(tok, map[string]any{"name": "a.bin", "directory_path": "/",
			"content": dataURL("application/octet-stream", bytes.Repeat([]byte{7}, 64<<10))})["id"].(string)
		path := e.path(e.share(tok, id, map[string]any{"max_downloads": 5}))
		var ok, gone atomic.Int64
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				resp, err := http.Get(e.url + path)
				if err != nil {
					t.Error(err)
					return
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch {
				case resp.StatusCode == http.StatusOK && n == 64<<10:
					ok.Add(1)
				case resp.StatusCode == http.StatusNotFound:
					gone.Add(1)
				default:
					t.Errorf("download: %d, %d bytes", resp.StatusCode, n)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 5 || gone.Load() != 27 {
			t.Errorf("%d downloads, %d refused; want 5 and 27", ok.Load(), gone.Load())
		}
	})
}

// clock is a test's movable time, for the catalog's Config.Now.
type clock struct{ t atomic.Pointer[time.Time] }

func newClock() *clock {
	c := &clock{}
	now := time.Now()
	c.t.Store(&now)
	return c
}

func (c *clock) now() time.Time { return *c.t.Load() }

func (c *clock) advance(d time.Duration) {
	t := c.now().Add(d)
	c.t.Store(&t)
}

func TestLinksExpire(t *testing.T) {
	for _, engine := range storetest.Engines {
		t.Run(engine, func(t *testing.T) {
			clk := newClock()
			e := newEnvWith(t, engine, func(c config) { c.Catalog.Now = clk.now })
			tok := rwToken(t, "acct")
			id := e.mustCreate(tok, map[string]any{"name": "a.txt", "directory_path": "/",
				"content": dataURL("text/plain", []byte("a"))})["id"].(string)
			path := e.path(e.share(tok, id, map[string]any{"expires_in": 60}))
			up := e.createUploadLink(tok, map[string]any{"directory_path": "/in", "expires_in": 60})
			clk.advance(59 * time.Second)
			if r := e.get(path, ""); r.status != http.StatusOK {
				t.Errorf("a second before expiry: %d", r.status)
			}
			if r := e.uploadVia(up.Token, "/in", "b.txt", "text/plain", "b"); r.status != http.StatusOK {
				t.Errorf("upload a second before expiry: %d %s", r.status, r.body)
			}
			clk.advance(time.Second)
			wantNoLink(t, "expired", e.get(path, ""))
			if r := e.uploadVia(up.Token, "/in", "c.txt", "text/plain", "c"); r.status != http.StatusUnauthorized {
				t.Errorf("upload through an expired link: %d %s", r.status, r.body)
			}
			if ls := e.links(tok, id); len(ls) != 0 {
				t.Errorf("an expired link is listed: %+v", ls)
			}
		})
	}
}

// TestLinkTokensNeverLogged: the access log names links by id, never by
// token.
func TestLinkTokensNeverLogged(t *testing.T) {
	var logs testkit.SyncBuffer
	e := newEnvWith(t, "sqlite", func(c config) { c.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })
	tok := rwToken(t, "acct")
	id := e.mustCreate(tok, map[string]any{"name": "a.txt", "directory_path": "/",
		"content": dataURL("text/plain", []byte("a"))})["id"].(string)
	l := e.share(tok, id, map[string]any{})
	e.get(e.path(l), "")
	up := e.createUploadLink(tok, map[string]any{"directory_path": "/in"})
	e.uploadVia(up.Token, "/in", "b.txt", "text/plain", "b")
	e.get("/v1/resources", up.Token)
	token := strings.TrimPrefix(e.path(l), "/v1/links/")
	out := logs.String()
	for _, secret := range []string{token, up.Token, token[4:20], up.Token[4:20]} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds a token: %s", out)
		}
	}
	if !strings.Contains(out, `"link_id":"`+l.ID+`"`) || !strings.Contains(out, `"link_id":"`+up.ID+`"`) ||
		!strings.Contains(out, `"path":"/v1/links/…"`) {
		t.Errorf("the log does not name the links by id: %s", out)
	}
}

// TestLinkMissLimit: an address whose link requests keep finding nothing
// is refused with 429 before any lookup; requests that find their link
// take nothing from it.
func TestLinkMissLimit(t *testing.T) {
	e := newEnvWith(t, "sqlite", func(c config) { c.LinkMissLimit = server.RateLimit{RPS: 0.001, Burst: 3} })
	tok := rwToken(t, "acct")
	id := e.mustCreate(tok, map[string]any{"name": "a.txt", "directory_path": "/",
		"content": dataURL("text/plain", []byte("a"))})["id"].(string)
	good := e.path(e.share(tok, id, map[string]any{}))
	for range 10 {
		if r := e.get(good, ""); r.status != http.StatusOK {
			t.Fatalf("a good link: %d", r.status)
		}
	}
	unknown := "/v1/links/rfd_" + strings.Repeat("B", 43)
	for range 2 {
		wantNoLink(t, "unknown", e.get(unknown, ""))
	}
	if r := e.send(http.MethodPost, "/v1/resources", "rfu_"+strings.Repeat("C", 43), map[string]any{}); r.status != http.StatusUnauthorized {
		t.Errorf("unknown upload link: %d", r.status)
	}
	for _, path := range []string{unknown, good} {
		r := e.get(path, "")
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
			t.Errorf("after 3 misses, %s: %d %v, want 429 with Retry-After", path, r.status, r.header)
		}
	}
	if r := e.get("/v1/resources", tok); r.status != http.StatusOK {
		t.Errorf("a request without a link: %d", r.status)
	}
}

// TestPublicURL: links start with PUBLIC_URL when it is set.
func TestPublicURL(t *testing.T) {
	e := newEnvWith(t, "sqlite", func(c config) { c.PublicURL = "https://files.example.com/api/" })
	tok := rwToken(t, "acct")
	id := e.mustCreate(tok, map[string]any{"name": "a.txt", "directory_path": "/",
		"content": dataURL("text/plain", []byte("a"))})["id"].(string)
	if l := e.share(tok, id, map[string]any{}); !strings.HasPrefix(l.URL, "https://files.example.com/api/v1/links/rfd_") {
		t.Errorf("url %q, want it under PUBLIC_URL", l.URL)
	}
}

// TestLinkRedirect: with LinkRedirect, a download through a link is a 302
// to a signed storage URL that serves the bytes, spends a use and expires;
// HEAD and conditional requests are answered by the server. A bucket that
// cannot sign refuses the setting.
func TestLinkRedirect(t *testing.T) {
	redirect := func(c config) { c.LinkRedirect, c.Catalog.PresignTTL = true, time.Second }
	t.Run("file", func(t *testing.T) {
		v, err := auth.New(context.Background(), auth.Config{Secret: []byte(testSecret)})
		if err != nil {
			t.Fatal(err)
		}
		svc := mustService(t, catalog.Config{DB: storetest.Open(t, "sqlite"), Blobs: blobtest.Open(t, "file"),
			Fetcher: urlfetch.New(urlfetch.Config{})})
		_, err = server.New(server.Config{Catalog: svc, Verifier: v, LinkRedirect: true})
		if err == nil || !strings.Contains(err.Error(), "LINK_REDIRECT=storage needs a bucket that signs URLs") {
			t.Errorf("server.New with LinkRedirect over a file:// bucket: %v", err)
		}
	})
	t.Run("s3", func(t *testing.T) {
		e := newEnvOn(t, "sqlite", "s3", redirect)
		tok := rwToken(t, "acct")
		content := []byte("bytes from storage")
		id := e.mustCreate(tok, map[string]any{"name": "r.txt", "directory_path": "/",
			"content": dataURL("text/plain", content)})["id"].(string)
		path := e.path(e.share(tok, id, map[string]any{"max_downloads": 2}))
		r := e.get(path, "")
		loc := r.header.Get("Location")
		if r.status != http.StatusFound || loc == "" || strings.HasPrefix(loc, e.url) {
			t.Fatalf("GET link: %d, Location %q; want 302 to storage", r.status, loc)
		}
		resp, err := http.Get(loc)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(b, content) ||
			resp.Header.Get("Content-Disposition") != `attachment; filename=r.txt` {
			t.Errorf("GET Location: %d %q %v", resp.StatusCode, b, resp.Header)
		}
		if h := roundTrip(t, http.MethodHead, e.url+path, nil); h.status != http.StatusOK {
			t.Errorf("HEAD: %d", h.status)
		}
		if c := e.do(http.MethodGet, path, "", http.Header{"If-None-Match": {`"` + sha(content) + `"`}}); c.status != http.StatusNotModified {
			t.Errorf("If-None-Match: %d", c.status)
		}
		if ls := e.links(tok, id); len(ls) != 1 || ls[0].Downloads != 1 {
			t.Errorf("after a redirect, a HEAD and a 304: %+v, want 1 download", ls)
		}
		time.Sleep(2100 * time.Millisecond) // the storage's clock
		if resp, err := http.Get(loc); err != nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET an expired Location: %v %v, want 403", resp.StatusCode, err)
		}
		if r := e.get(path, ""); r.status != http.StatusFound {
			t.Errorf("second download: %d", r.status)
		}
		wantNoLink(t, "used up", e.get(path, ""))
	})
}

// uploadLink is an upload link as createUploadLink answers it.
type uploadLink struct {
	ID      string `json:"id"`
	Token   string `json:"token"`
	Uploads int64  `json:"uploads"`
}

func (e *env) createUploadLink(token string, body map[string]any) uploadLink {
	e.t.Helper()
	r := e.send(http.MethodPost, "/v1/upload-links", token, body)
	return decodeAs[uploadLink](e.t, r, http.StatusCreated, fmt.Sprintf("create upload link %v", body))
}

// uploadVia creates dir/name with content of mediaType through the
// upload link token, directory_path first as the link requires.
func (e *env) uploadVia(token, dir, name, mediaType, content string) response {
	e.t.Helper()
	body := fmt.Sprintf(`{"name":%q,"directory_path":%q,"content":%q}`, name, dir, dataURL(mediaType, []byte(content)))
	return e.doBody(http.MethodPost, "/v1/resources", token, http.Header{"Content-Type": {"application/json"}}, []byte(body))
}

func TestUploadLinks(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		tok := rwToken(t, "acct")
		up := e.createUploadLink(tok, map[string]any{"directory_path": "/inbox", "max_bytes": 10,
			"mime_types": []string{"image/*", "application/pdf"}, "max_uploads": 2, "tags": []string{"partner"}})
		if !strings.HasPrefix(up.Token, "rfu_") || len(up.Token) != 47 {
			t.Fatalf("token %q", up.Token)
		}
		refusals := []struct {
			name   string
			body   string
			status int
			msg    string
		}{
			{"wrong type", fmt.Sprintf(`{"name":"a","directory_path":"/inbox","content":%q}`, dataURL("text/html", []byte("<p>"))),
				http.StatusForbidden, "content: media type text/html is not one of application/pdf, image/*"},
			{"too large", fmt.Sprintf(`{"name":"a","directory_path":"/inbox","content":%q}`, dataURL("image/png", []byte("12345678901"))),
				http.StatusRequestEntityTooLarge, "content is larger than 10 bytes"},
			{"outside the folder", fmt.Sprintf(`{"name":"a","directory_path":"/inbox/sub","content":%q}`, dataURL("image/png", []byte("1"))),
				http.StatusForbidden, "directory_path: must be /inbox for this upload link"},
			{"path after content", fmt.Sprintf(`{"name":"a","content":%q,"directory_path":"/inbox"}`, dataURL("image/png", []byte("1"))),
				http.StatusBadRequest, "directory_path: must come before content in the body"},
			{"no path", fmt.Sprintf(`{"name":"a","content":%q}`, dataURL("image/png", []byte("1"))),
				http.StatusBadRequest, "directory_path: must come before content in the body"},
			{"body too large", `{"name":"a","directory_path":"/inbox","content":"` + strings.Repeat("A", 1<<20+100) + `"}`,
				http.StatusRequestEntityTooLarge, "the most an upload of this link can take"},
		}
		for _, tt := range refusals {
			r := e.doBody(http.MethodPost, "/v1/resources", up.Token, http.Header{"Content-Type": {"application/json"}}, []byte(tt.body))
			if r.status != tt.status || !strings.Contains(r.errorMessage(t), tt.msg) {
				t.Errorf("%s: %d %s, want %d saying %q", tt.name, r.status, r.body, tt.status, tt.msg)
			}
		}

		// Refusals took no use: two uploads succeed, the third is past
		// the limit.
		r := e.uploadVia(up.Token, "/inbox", "scan.png", "image/png", "0123456789")
		if r.status != http.StatusOK {
			t.Fatalf("upload: %d %s", r.status, r.body)
		}
		var created struct {
			ID, AccountID, CreatedBy string
			Tags                     []string
		}
		r.json(t, &created)
		got := e.get("/v1/resource/"+created.ID, tok)
		if got.status != http.StatusOK || !strings.Contains(string(got.body), `"created_by":"upload-link:`+up.ID+`"`) ||
			!strings.Contains(string(got.body), `"tags":["partner"]`) || !strings.Contains(string(got.body), `"account_id":"acct"`) {
			t.Errorf("created through the link: %s", got.body)
		}
		if r := e.uploadVia(up.Token, "/inbox", "b.pdf", "application/pdf", "%PDF"); r.status != http.StatusOK {
			t.Fatalf("second upload: %d %s", r.status, r.body)
		}
		past := e.uploadVia(up.Token, "/inbox", "c.png", "image/png", "c")
		unknown := e.uploadVia("rfu_"+strings.Repeat("x", 43), "/inbox", "c.png", "image/png", "c")
		if past.status != http.StatusUnauthorized || string(past.body) != string(unknown.body) ||
			!strings.Contains(past.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("past the limit: %d %s; unknown: %d %s; want the same 401", past.status, past.body, unknown.status, unknown.body)
		}
	})
}

func TestUploadLinkOnlyCreates(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		tok := rwToken(t, "acct")
		up := e.createUploadLink(tok, map[string]any{"directory_path": "/in", "allow_subdirectories": true})
		id := e.mustCreate(tok, map[string]any{"name": "a.txt", "directory_path": "/",
			"content": dataURL("text/plain", []byte("a"))})["id"].(string)
		for _, req := range []struct{ method, path string }{
			{http.MethodGet, "/v1/resources"},
			{http.MethodGet, "/v1/resource/" + id},
			{http.MethodGet, "/v1/resource/" + id + "/content"},
			{http.MethodDelete, "/v1/resource/" + id},
			{http.MethodGet, "/v1/upload-links"},
			{http.MethodDelete, "/v1/upload-links/" + up.ID},
			{http.MethodPost, "/v1/resource/" + id + "/links"},
		} {
			var r response
			if req.method == http.MethodPost {
				r = e.send(req.method, req.path, up.Token, map[string]any{})
			} else {
				r = e.do(req.method, req.path, up.Token, nil)
			}
			if r.status != http.StatusUnauthorized {
				t.Errorf("%s %s with an upload link: %d %s, want 401", req.method, req.path, r.status, r.body)
			}
		}
		if r := e.uploadVia(up.Token, "/in/deep/er", "b.txt", "text/plain", "b"); r.status != http.StatusOK {
			t.Errorf("beneath the folder: %d %s", r.status, r.body)
		}

		list := e.get("/v1/upload-links", tok)
		var links struct{ Items []uploadLink }
		list.json(t, &links)
		if list.status != http.StatusOK || len(links.Items) != 1 || links.Items[0].Uploads != 1 || links.Items[0].Token != "" {
			t.Errorf("list: %d %s", list.status, list.body)
		}
		if r := e.do(http.MethodDelete, "/v1/upload-links/"+up.ID, rwToken(t, "other"), nil); r.status != http.StatusNotFound {
			t.Errorf("another account revokes: %d", r.status)
		}
		if r := e.do(http.MethodDelete, "/v1/upload-links/"+up.ID, tok, nil); r.status != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		if r := e.uploadVia(up.Token, "/in", "c.txt", "text/plain", "c"); r.status != http.StatusUnauthorized {
			t.Errorf("revoked: %d %s", r.status, r.body)
		}
	})
}

// TestUploadLinkURI: a uri create through an upload link, refused for a
// type the link does not take before its bytes are stored.
func TestUploadLinkURI(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", strings.TrimPrefix(r.URL.Path, "/"))
		io.WriteString(w, "fetched")
	}))
	t.Cleanup(origin.Close)
	e := newEnv(t, "sqlite")
	up := e.createUploadLink(rwToken(t, "acct"), map[string]any{"directory_path": "/in", "mime_types": []string{"image/png"}})
	for mediaType, status := range map[string]int{"image/png": http.StatusOK, "text/html": http.StatusForbidden} {
		r := e.send(http.MethodPost, "/v1/resources", up.Token, map[string]any{"name": mediaType[:4],
			"directory_path": "/in", "uri": origin.URL + "/" + mediaType})
		if r.status != status {
			t.Errorf("uri of %s: %d %s, want %d", mediaType, r.status, r.body, status)
		}
	}
}
