package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/blobstore/blobtest"
	"github.com/re-factor/resources/store/storetest"
	"github.com/re-factor/resources/urlfetch"
)

const rwScope = "resources:read resources:write"

func rwToken(t testing.TB, account string) string { return mustToken(t, account, rwScope) }

func dataURL(mediaType string, b []byte) string {
	return "data:" + mediaType + ";base64," + base64.StdEncoding.EncodeToString(b)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// mustCreate creates a resource and returns its API form.
func (e *env) mustCreate(token string, body map[string]any) map[string]any {
	e.t.Helper()
	r := e.send(http.MethodPost, "/v1/resources", token, body)
	return decodeAs[map[string]any](e.t, r, http.StatusOK, fmt.Sprintf("create %v", body))
}

func TestCreateGetDownload(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		tok := rwToken(t, "acct")
		content := []byte("hello, resources\n")
		got := e.mustCreate(tok, map[string]any{
			"name": "hello.txt", "directory_path": "/greetings",
			"content": dataURL("text/plain;charset=utf-8", content),
			"tags":    []string{" b ", "a", "b"}, "metadata": map[string]any{"lang": "en"},
		})
		id := got["id"].(string)
		want := map[string]any{
			"account_id": "acct", "name": "hello.txt", "directory_path": "/greetings",
			"mime_type": "text/plain; charset=utf-8", "sha256": sha(content), "size_bytes": float64(len(content)),
			"storage_bucket": e.blobs.Bucket(), "storage_key": blobstore.Key("acct", id),
			"tags": "[a b]", "metadata": "map[lang:en]", "created_by": "tester",
		}
		for k, v := range want {
			if fmt.Sprint(got[k]) != fmt.Sprint(v) {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
		if got["created_at"] != got["updated_at"] || !strings.HasSuffix(got["created_at"].(string), "Z") {
			t.Errorf("created_at %v, updated_at %v: want equal UTC times", got["created_at"], got["updated_at"])
		}

		item := e.get("/v1/resource/"+id, tok)
		if item.status != http.StatusOK || !strings.Contains(string(item.body), `"sha256":"`+sha(content)) {
			t.Errorf("GET item = %d %s", item.status, item.body)
		}
		dl := e.get("/v1/resource/"+id+"/content", tok)
		if dl.status != http.StatusOK || string(dl.body) != string(content) {
			t.Fatalf("download = %d %q, want 200 %q", dl.status, dl.body, content)
		}
		for h, v := range map[string]string{
			"Content-Type": "text/plain; charset=utf-8", "Content-Length": fmt.Sprint(len(content)),
			"Etag": `"` + sha(content) + `"`, "Content-Disposition": `attachment; filename=hello.txt`,
			"X-Content-Type-Options": "nosniff", "Accept-Ranges": "bytes",
		} {
			if got := dl.header.Get(h); got != v {
				t.Errorf("download header %s = %q, want %q", h, got, v)
			}
		}
		if b := e.list("tags=a", tok); b.Total != 1 || b.Items[0]["id"] != id {
			t.Errorf("list after create = %+v", b)
		}
	})
}

func TestDownloadRangesAndConditionals(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		tok := rwToken(t, "acct")
		content := []byte("0123456789")
		id := e.mustCreate(tok, map[string]any{"name": "n", "directory_path": "/", "content": dataURL("application/octet-stream", content)})["id"].(string)
		path := "/v1/resource/" + id + "/content"
		tests := []struct {
			header   http.Header
			status   int
			body, cr string
		}{
			{http.Header{"Range": {"bytes=2-4"}}, http.StatusPartialContent, "234", "bytes 2-4/10"},
			{http.Header{"Range": {"bytes=-3"}}, http.StatusPartialContent, "789", "bytes 7-9/10"},
			{http.Header{"Range": {"bytes=8-"}}, http.StatusPartialContent, "89", "bytes 8-9/10"},
			{http.Header{"Range": {"bytes=20-30"}}, http.StatusRequestedRangeNotSatisfiable, "", "bytes */10"},
			{http.Header{"If-None-Match": {`"` + sha(content) + `"`}}, http.StatusNotModified, "", ""},
			{http.Header{"If-None-Match": {`"other"`}}, http.StatusOK, "0123456789", ""},
		}
		for _, tt := range tests {
			r := e.do(http.MethodGet, path, tok, tt.header)
			if r.status != tt.status || r.header.Get("Content-Range") != tt.cr {
				t.Errorf("%v: %d Content-Range %q, want %d %q", tt.header, r.status, r.header.Get("Content-Range"), tt.status, tt.cr)
			}
			if r.status < 300 && string(r.body) != tt.body {
				t.Errorf("%v: body %q, want %q", tt.header, r.body, tt.body)
			}
		}
	})
}

// TestDownloadDisposition checks that stored bytes are saved, not shown,
// unless a preview asks for inline, and never run script on our origin.
func TestDownloadDisposition(t *testing.T) {
	e := newEnv(t, "sqlite")
	tok := rwToken(t, "acct")
	id := e.mustCreate(tok, map[string]any{"name": "x.svg", "directory_path": "/",
		"content": dataURL("image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`))})["id"].(string)
	for _, tt := range []struct {
		query, disposition string
		status             int
	}{
		{"", "attachment; filename=x.svg", http.StatusOK},
		{"?disposition=attachment", "attachment; filename=x.svg", http.StatusOK},
		{"?disposition=inline", "inline; filename=x.svg", http.StatusOK},
		{"?disposition=render", "", http.StatusBadRequest},
	} {
		r := e.get("/v1/resource/"+id+"/content"+tt.query, tok)
		if r.status != tt.status {
			t.Errorf("%q: status %d, want %d (%s)", tt.query, r.status, tt.status, r.body)
			continue
		}
		if tt.status != http.StatusOK {
			continue
		}
		if got := r.header.Get("Content-Disposition"); got != tt.disposition {
			t.Errorf("%q: Content-Disposition %q, want %q", tt.query, got, tt.disposition)
		}
		if got := r.header.Get("Content-Security-Policy"); got != "sandbox" {
			t.Errorf("%q: Content-Security-Policy %q, want sandbox", tt.query, got)
		}
	}
}

func TestCreateFromURI(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/typed":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"a":1}`)
		case "/sniffed":
			w.Header()["Content-Type"] = nil
			fmt.Fprint(w, "%PDF-1.4 not really")
		case "/big":
			w.Write(make([]byte, 4096))
		default:
			http.NotFound(w, r)
		}
	}))
	defer upstream.Close()
	e := newEnvWith(t, "sqlite", func(c config) { c.Catalog.MaxContentBytes, c.Catalog.MaxUploadBytes = 1024, 2048 })
	tok := rwToken(t, "acct")
	typed := e.mustCreate(tok, map[string]any{"name": "t.json", "directory_path": "/u", "uri": upstream.URL + "/typed"})
	if typed["mime_type"] != "application/json" || typed["original_uri"] != upstream.URL+"/typed" || typed["sha256"] != sha([]byte(`{"a":1}`)) {
		t.Errorf("created from uri = %v", typed)
	}
	if sniffed := e.mustCreate(tok, map[string]any{"name": "s.pdf", "directory_path": "/u", "uri": upstream.URL + "/sniffed"}); sniffed["mime_type"] != "application/pdf" {
		t.Errorf("sniffed mime_type = %v, want application/pdf", sniffed["mime_type"])
	}
	for path, status := range map[string]int{"/missing": http.StatusBadRequest, "/big": http.StatusRequestEntityTooLarge} {
		r := e.send(http.MethodPost, "/v1/resources", tok, map[string]any{"name": "x", "directory_path": "/u", "uri": upstream.URL + path})
		if r.status != status {
			t.Errorf("uri %s = %d %s, want %d", path, r.status, r.body, status)
		}
	}
	assertNoOrphans(t, e)

	strict := newEnvWith(t, "sqlite", func(c config) { c.Catalog.Fetcher = urlfetch.New(urlfetch.Config{}) })
	r := strict.send(http.MethodPost, "/v1/resources", tok, map[string]any{"name": "x", "directory_path": "/u", "uri": upstream.URL + "/typed"})
	if r.status != http.StatusBadRequest || !strings.Contains(r.errorMessage(t), "address") {
		t.Errorf("uri on loopback without URI_FETCH_ALLOW_PRIVATE = %d %s, want 400 naming the address", r.status, r.body)
	}
}

// The limits of TestCreateFromURIUpToUploadLimit's servers.
const uriMaxContent, uriMaxUpload = 1 << 20, 4 << 20

// TestCreateFromURIUpToUploadLimit: a uri's content streams into storage
// up to MAX_UPLOAD_BYTES, past MAX_CONTENT_BYTES (which bounds a JSON
// body), whether the origin declares its length or not; beyond it, 413
// and nothing stored. The fetch may outlast the connection's deadlines
// (sized for a JSON body) as long as the origin does not stall.
func TestCreateFromURIUpToUploadLimit(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		size := map[string]int64{"/under": 3 << 20, "/exact": uriMaxUpload, "/over": uriMaxUpload + 1, "/slow": 2 << 20}[strings.TrimSuffix(r.URL.Path, "/declared")]
		if strings.HasSuffix(r.URL.Path, "/declared") {
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		p := &pattern{n: size}
		for {
			n, err := io.CopyN(w, p, 256<<10)
			w.(http.Flusher).Flush() // chunked unless declared
			if r.URL.Path == "/slow" {
				time.Sleep(400 * time.Millisecond)
			}
			if err != nil || n == 0 {
				return
			}
		}
	}))
	defer upstream.Close()
	for _, engine := range storetest.Engines {
		for _, kind := range blobtest.Kinds {
			t.Run(engine+"/"+kind, func(t *testing.T) {
				testCreateFromURIUpToUploadLimit(t, newUnstartedEnv(t, engine, kind, func(c config) {
					c.Catalog.MaxContentBytes, c.Catalog.MaxUploadBytes = uriMaxContent, uriMaxUpload
				}), upstream.URL)
			})
		}
	}
}

func testCreateFromURIUpToUploadLimit(t *testing.T, u unstartedEnv, upstream string) {
	// Deadlines far shorter than the slow origin's 8 × 400 ms, long
	// enough for the other requests on a busy machine.
	u.srv.Config.ReadTimeout, u.srv.Config.WriteTimeout = time.Second, 1500*time.Millisecond
	u.srv.Start()
	e := u.env
	e.url = u.srv.URL
	tok := rwToken(t, "acct")
	for i, c := range []struct {
		path   string
		status int
		size   int64
	}{
		{"/under", http.StatusOK, 3 << 20},
		{"/under/declared", http.StatusOK, 3 << 20},
		{"/exact", http.StatusOK, uriMaxUpload},
		{"/over", http.StatusRequestEntityTooLarge, 0},
		{"/over/declared", http.StatusRequestEntityTooLarge, 0},
		{"/slow", http.StatusOK, 2 << 20},
	} {
		r := e.send(http.MethodPost, "/v1/resources", tok, map[string]any{"name": "f" + strconv.Itoa(i), "directory_path": "/u",
			"uri": upstream + c.path})
		if r.status != c.status {
			t.Errorf("uri %s: %d %.300s, want %d", c.path, r.status, r.body, c.status)
			continue
		}
		if c.status == http.StatusOK {
			var res struct {
				SHA256    string `json:"sha256"`
				SizeBytes int64  `json:"size_bytes"`
			}
			r.json(t, &res)
			if res.SizeBytes != c.size || res.SHA256 != patternSHA(c.size) {
				t.Errorf("uri %s: stored %d bytes, sha256 %s; want %d, %s", c.path, res.SizeBytes, res.SHA256, c.size, patternSHA(c.size))
			}
		} else if !strings.Contains(r.errorMessage(t), strconv.Itoa(uriMaxUpload)) {
			t.Errorf("uri %s: 413 %q does not name the limit", c.path, r.errorMessage(t))
		}
	}
	var list struct{ Items []any }
	e.get("/v1/resources?limit=100", tok).json(t, &list)
	if len(list.Items) != 4 {
		t.Errorf("%d resources, want the 4 under the limit", len(list.Items))
	}
	assertNoOrphans(t, e)
}

func TestCreateRejects(t *testing.T) {
	e := newEnvWith(t, "sqlite", func(c config) { c.Catalog.MaxContentBytes = 1024 })
	tok := rwToken(t, "acct")
	ok := dataURL("text/plain", []byte("x"))
	tests := []struct {
		name   string
		body   map[string]any
		status int
		says   string
	}{
		{"neither content nor uri", map[string]any{"name": "a", "directory_path": "/"}, 400, "exactly one"},
		{"both", map[string]any{"name": "a", "directory_path": "/", "content": ok, "uri": "https://example.org/x"}, 400, "exactly one"},
		{"no name", map[string]any{"directory_path": "/", "content": ok}, 400, "name"},
		{"name with slash", map[string]any{"name": "a/b", "directory_path": "/", "content": ok}, 400, "name"},
		{"relative path", map[string]any{"name": "a", "directory_path": "docs", "content": ok}, 400, "directory_path"},
		{"dot-dot path", map[string]any{"name": "a", "directory_path": "/a/../b", "content": ok}, 400, "directory_path"},
		{"trailing slash", map[string]any{"name": "a", "directory_path": "/a/", "content": ok}, 400, "directory_path"},
		{"comma tag", map[string]any{"name": "a", "directory_path": "/", "content": ok, "tags": []string{"a,b"}}, 400, "tag"},
		{"51 tags", map[string]any{"name": "a", "directory_path": "/", "content": ok, "tags": manyTags(51)}, 400, "tags"},
		{"metadata array", map[string]any{"name": "a", "directory_path": "/", "content": ok, "metadata": []int{1}}, 400, "metadata"},
		{"server-set field", map[string]any{"name": "a", "directory_path": "/", "content": ok, "sha256": "x"}, 400, "sha256"},
		{"not a data URL", map[string]any{"name": "a", "directory_path": "/", "content": "hello"}, 400, "data URL"},
		{"not base64", map[string]any{"name": "a", "directory_path": "/", "content": "data:text/plain,hello"}, 400, "base64"},
		{"bad MIME type", map[string]any{"name": "a", "directory_path": "/", "content": "data:text;base64,aGk="}, 400, "type/subtype"},
		{"bad base64", map[string]any{"name": "a", "directory_path": "/", "content": "data:text/plain;base64,!!!!"}, 400, "base64"},
		{"ftp uri", map[string]any{"name": "a", "directory_path": "/", "uri": "ftp://example.org/x"}, 400, "request body: uri: must be an http or https URL"},
		{"too large", map[string]any{"name": "a", "directory_path": "/", "content": dataURL("text/plain", make([]byte, 1025))}, 413, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.send(http.MethodPost, "/v1/resources", tok, tt.body)
			if r.status != tt.status {
				t.Fatalf("status = %d %s, want %d", r.status, r.body, tt.status)
			}
			if msg := r.errorMessage(t); !strings.Contains(msg, tt.says) {
				t.Errorf("error %q does not mention %q", msg, tt.says)
			}
		})
	}
	if r := e.send(http.MethodPost, "/v1/resources", tok, map[string]any{"name": "exact", "directory_path": "/", "content": dataURL("text/plain", make([]byte, 1024))}); r.status != http.StatusOK {
		t.Errorf("content of exactly MAX_CONTENT_BYTES = %d %s, want 200", r.status, r.body)
	}
	plain := e.doBody(http.MethodPost, "/v1/resources", tok, http.Header{"Content-Type": {"text/plain"}}, []byte("{}"))
	if plain.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain body = %d, want 415", plain.status)
	}
	huge := e.doBody(http.MethodPost, "/v1/resources", tok, http.Header{"Content-Type": {"application/json"}}, make([]byte, 3<<20))
	if huge.status != http.StatusRequestEntityTooLarge {
		t.Errorf("3 MiB body with a 1 KiB content cap = %d, want 413", huge.status)
	}
	if r := e.send(http.MethodPost, "/v1/resources", readToken(t, "acct"), map[string]any{"name": "a", "directory_path": "/", "content": ok}); r.status != http.StatusForbidden {
		t.Errorf("create with a read-only token = %d, want 403", r.status)
	}
	assertNoOrphans(t, e)
}

func manyTags(n int) []string {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%d", i)
	}
	return tags
}

// assertNoOrphans fails when storage holds bytes no row references.
func assertNoOrphans(t *testing.T, e *env) {
	t.Helper()
	orphans, err := orphanKeys(e, func(ctx context.Context, fn func(string) error) error {
		return e.db.StorageKeys(ctx, e.blobs.Bucket(), fn)
	})
	if err != nil {
		t.Fatalf("orphans: %v", err)
	}
	if len(orphans) > 0 {
		t.Errorf("storage holds %d unreferenced objects, first %s", len(orphans), orphans[0])
	}
}

// orphanKeys returns the keys of the stored objects that referenced does not
// yield.
func orphanKeys(e *env, referenced blobstore.Referenced) ([]string, error) {
	var keys []string
	err := e.blobs.Orphans(context.Background(), time.Now().Add(time.Hour), referenced, nil, false, func(o blobstore.Orphan) error {
		keys = append(keys, o.Key)
		return nil
	})
	return keys, err
}

// raceStatuses makes n requests at once, send(i) making the i-th and
// returning its status, and counts the statuses they got.
func raceStatuses(n int, send func(i int) int) map[int]int {
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { statuses <- send(i) })
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	return count
}

func TestConcurrentCreatesOfOnePath(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		tok := rwToken(t, "acct")
		body := map[string]any{"name": "race.txt", "directory_path": "/r", "content": dataURL("text/plain", []byte("same"))}
		count := raceStatuses(50, func(int) int { return e.send(http.MethodPost, "/v1/resources", tok, body).status })
		if count[http.StatusOK] != 1 || count[http.StatusConflict] != 49 {
			t.Errorf("statuses = %v, want one 200 and 49 409", count)
		}
		assertNoOrphans(t, e)
	})
}

func TestUpdate(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		tok := rwToken(t, "acct")
		content := []byte("keep me")
		made := e.mustCreate(tok, map[string]any{"name": "a.txt", "directory_path": "/x", "content": dataURL("text/plain", content), "metadata": map[string]any{"k": 1, "old": true}})
		e.mustCreate(tok, map[string]any{"name": "taken.txt", "directory_path": "/y", "content": dataURL("text/plain", content)})
		id := made["id"].(string)
		path := "/v1/resource/" + id
		time.Sleep(2 * time.Millisecond)

		r := e.send(http.MethodPut, path, tok, map[string]any{"name": "b.txt", "directory_path": "/y/z", "metadata": map[string]any{"k": 2}})
		var got map[string]any
		r.json(t, &got)
		if r.status != http.StatusOK || got["name"] != "b.txt" || got["directory_path"] != "/y/z" || fmt.Sprint(got["metadata"]) != "map[k:2]" {
			t.Fatalf("update = %d %s", r.status, r.body)
		}
		if got["storage_key"] != made["storage_key"] || got["created_at"] != made["created_at"] || got["updated_at"] == made["updated_at"] {
			t.Errorf("after update storage_key %v created_at %v updated_at %v; before %v %v %v",
				got["storage_key"], got["created_at"], got["updated_at"], made["storage_key"], made["created_at"], made["updated_at"])
		}
		if dl := e.get(path+"/content", tok); string(dl.body) != string(content) {
			t.Errorf("content after a move = %q, want %q", dl.body, content)
		}
		if r := e.send(http.MethodPut, path, tok, map[string]any{"name": "c.txt"}); r.status != http.StatusOK || !strings.Contains(string(r.body), `"directory_path":"/y/z"`) {
			t.Errorf("partial update = %d %s, want the path kept", r.status, r.body)
		}
		for _, tt := range []struct {
			name   string
			body   map[string]any
			status int
		}{
			{"onto a taken path", map[string]any{"name": "taken.txt", "directory_path": "/y"}, http.StatusConflict},
			{"bad path", map[string]any{"directory_path": "y"}, http.StatusBadRequest},
			{"bad name", map[string]any{"name": ""}, http.StatusBadRequest},
			{"tags", map[string]any{"tags": []string{"a"}}, http.StatusBadRequest},
			{"metadata null", map[string]any{"metadata": nil}, http.StatusBadRequest},
		} {
			if r := e.send(http.MethodPut, path, tok, tt.body); r.status != tt.status {
				t.Errorf("%s: %d %s, want %d", tt.name, r.status, r.body, tt.status)
			}
		}
	})
}

func TestDelete(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		tok := rwToken(t, "acct")
		made := e.mustCreate(tok, map[string]any{"name": "a", "directory_path": "/", "content": dataURL("text/plain", []byte("bye")), "tags": []string{"t"}})
		path := "/v1/resource/" + made["id"].(string)
		if r := e.do(http.MethodDelete, path, tok, nil); r.status != http.StatusNoContent || len(r.body) != 0 {
			t.Fatalf("delete = %d %s, want 204", r.status, r.body)
		}
		for _, p := range []string{path, path + "/content"} {
			if r := e.get(p, tok); r.status != http.StatusNotFound {
				t.Errorf("GET %s after delete = %d, want 404", p, r.status)
			}
		}
		if r := e.do(http.MethodDelete, path, tok, nil); r.status != http.StatusNotFound {
			t.Errorf("second delete = %d, want 404", r.status)
		}
		if b := e.list("tags=t", tok); b.Total != 0 {
			t.Errorf("tag filter still finds %d after delete", b.Total)
		}
		if _, err := e.blobs.NewRangeReader(context.Background(), made["storage_key"].(string), 0, -1); err == nil {
			t.Error("bytes still stored after delete")
		}
	})
}

// TestForeignIDsLookMissing: another account's resource answers exactly as
// an id that does not exist, on every item route.
func TestForeignIDsLookMissing(t *testing.T) {
	e := newEnv(t, "postgres")
	owner, stranger := rwToken(t, "owner"), rwToken(t, "stranger")
	id := e.mustCreate(owner, map[string]any{"name": "a", "directory_path": "/", "content": dataURL("text/plain", []byte("secret"))})["id"].(string)
	missing := "00000000-0000-4000-8000-000000000000"
	for _, route := range []struct{ method, suffix string }{
		{http.MethodGet, ""}, {http.MethodGet, "/content"}, {http.MethodDelete, ""}, {http.MethodPut, ""},
	} {
		send := func(id string) response {
			if route.method == http.MethodPut {
				return e.send(route.method, "/v1/resource/"+id, stranger, map[string]any{"name": "mine"})
			}
			return e.do(route.method, "/v1/resource/"+id+route.suffix, stranger, nil)
		}
		foreign, absent := send(id), send(missing)
		if foreign.status != http.StatusNotFound || string(foreign.body) != strings.Replace(string(absent.body), missing, id, 1) {
			t.Errorf("%s %s: foreign %d %s, missing %d %s", route.method, route.suffix, foreign.status, foreign.body, absent.status, absent.body)
		}
	}
	if dl := e.get("/v1/resource/"+id+"/content", owner); string(dl.body) != "secret" {
		t.Errorf("owner's content after the stranger's attempts = %q", dl.body)
	}
}

// TestCreateWhenTheDatabaseFails injects a database failure after the bytes
// are stored: the create fails and leaves no bytes behind.
func TestCreateWhenTheDatabaseFails(t *testing.T) {
	for _, kind := range []string{"file", "s3"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnvOn(t, "sqlite", kind, nil)
			e.db.Close()
			r := e.send(http.MethodPost, "/v1/resources", rwToken(t, "acct"), map[string]any{"name": "a", "directory_path": "/", "content": dataURL("text/plain", []byte("x"))})
			if r.status < 500 {
				t.Fatalf("create with the database closed = %d, want 5xx", r.status)
			}
			orphans, err := orphanKeys(e, func(context.Context, func(string) error) error { return nil })
			if err != nil || len(orphans) != 0 {
				t.Errorf("orphans after a failed create = %v, %v; want none", orphans, err)
			}
		})
	}
}
