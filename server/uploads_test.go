package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/internal/testkit"
	"github.com/re-factor/resources/store/storetest"
)

// tusMeta builds an Upload-Metadata header from key, value pairs.
func tusMeta(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+" "+base64.StdEncoding.EncodeToString([]byte(kv[i+1])))
	}
	return strings.Join(parts, ",")
}

// tusHeader is a tus request's headers plus the given pairs.
func tusHeader(kv ...string) http.Header {
	h := http.Header{"Tus-Resumable": {"1.0.0"}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// createUpload starts an upload of length bytes with the metadata meta,
// sending first (creation-with-upload) when not nil.
func (e *env) createUpload(token string, length int, meta string, first []byte) response {
	e.t.Helper()
	h := tusHeader("Upload-Length", strconv.Itoa(length), "Upload-Metadata", meta)
	if first != nil {
		h.Set("Content-Type", "application/offset+octet-stream")
	}
	return e.doBody(http.MethodPost, "/v1/uploads", token, h, first)
}

// mustCreateUpload starts an upload and returns its path.
func (e *env) mustCreateUpload(token string, length int, meta string) string {
	e.t.Helper()
	r := e.createUpload(token, length, meta, nil)
	if r.status != http.StatusCreated {
		e.t.Fatalf("create upload: %d %s", r.status, r.body)
	}
	loc := r.header.Get("Location")
	i := strings.Index(loc, "/v1/uploads/")
	if i < 0 {
		e.t.Fatalf("Location %q", loc)
	}
	return loc[i:]
}

func (e *env) patch(path, token string, offset int, chunk []byte) response {
	e.t.Helper()
	return e.doBody(http.MethodPatch, path, token,
		tusHeader("Upload-Offset", strconv.Itoa(offset), "Content-Type", "application/offset+octet-stream"), chunk)
}

// head sends the tus HEAD of an upload (which the spec gives as GET).
func (e *env) head(path, token string) (int, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodHead, e.url+path, nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Authorization", "Bearer "+token)
	status, h, _ := testkit.Send(e.t, req)
	return status, h
}

// offsetOf asks HEAD for the upload's offset; -1 for a status other than 200.
func (e *env) offsetOf(path, token string) int {
	e.t.Helper()
	status, h := e.head(path, token)
	if status != http.StatusOK {
		return -1
	}
	n, err := strconv.Atoi(h.Get("Upload-Offset"))
	if err != nil {
		e.t.Fatalf("HEAD %s: Upload-Offset %q", path, h.Get("Upload-Offset"))
	}
	return n
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestUploadResumable goes through a whole upload: creation with the
// resource's fields, a chunk crossing an S3 part, a PATCH at a stale
// offset, HEAD, the rest, and the resource at the upload's id.
func TestUploadResumable(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		tok := rwToken(t, "acct")
		data := randomBytes(9<<20 + 1234)
		path := e.mustCreateUpload(tok, len(data), tusMeta("filename", "scan.pdf", "directory_path", "/in",
			"tags", "b, a", "metadata", `{"pages":3}`, "filetype", "application/pdf", "sha256", strings.ToUpper(hexSHA256(data))))
		id := strings.TrimPrefix(path, "/v1/uploads/")
		if got := e.offsetOf(path, tok); got != 0 {
			t.Fatalf("HEAD of a new upload: offset %d", got)
		}
		first := 8<<20 + 17
		r := e.patch(path, tok, 0, data[:first])
		if r.status != http.StatusNoContent || r.header.Get("Upload-Offset") != strconv.Itoa(first) || r.header.Get("Upload-Expires") == "" {
			t.Fatalf("first PATCH: %d %v %s", r.status, r.header, r.body)
		}
		if r := e.patch(path, tok, 5, data[5:10]); r.status != http.StatusConflict {
			t.Errorf("PATCH at a stale offset: %d %s, want 409", r.status, r.body)
		}
		if got := e.offsetOf(path, tok); got != first {
			t.Fatalf("HEAD: offset %d, want %d", got, first)
		}
		if r := e.get("/v1/resource/"+id, tok); r.status != http.StatusNotFound {
			t.Errorf("the resource exists before the last byte: %d", r.status)
		}
		if r := e.patch(path, tok, first, data[first:]); r.status != http.StatusNoContent {
			t.Fatalf("last PATCH: %d %s", r.status, r.body)
		}
		var res struct {
			ID, Name, DirectoryPath, MimeType, SHA256 string
			SizeBytes                                 int64 `json:"size_bytes"`
			Tags                                      []string
		}
		r = e.get("/v1/resource/"+id, tok)
		if r.status != http.StatusOK {
			t.Fatalf("resource: %d %s", r.status, r.body)
		}
		r.json(t, &res)
		body := string(r.body)
		if res.ID != id || !strings.Contains(body, `"sha256":"`+hexSHA256(data)+`"`) || !strings.Contains(body, `"size_bytes":`+strconv.Itoa(len(data))) ||
			!strings.Contains(body, `"mime_type":"application/pdf"`) || !strings.Contains(body, `"tags":["a","b"]`) ||
			!strings.Contains(body, `"metadata":{"pages":3}`) || !strings.Contains(body, `"name":"scan.pdf"`) {
			t.Errorf("resource: %s", body)
		}
		if c := e.get("/v1/resource/"+id+"/content", tok); c.status != http.StatusOK || !bytes.Equal(c.body, data) {
			t.Errorf("content: %d, %d bytes, equal %v", c.status, len(c.body), bytes.Equal(c.body, data))
		}
		if got := e.offsetOf(path, tok); got != len(data) {
			t.Errorf("HEAD after completion: offset %d, want %d", got, len(data))
		}
		if s := e.get(path, tok); s.status != http.StatusOK || !strings.Contains(string(s.body), `"done":true`) {
			t.Errorf("GET after completion: %d %s", s.status, s.body)
		}
	})
}

// TestUploadRules refuses a creation that breaks a rule of a create before
// any byte is taken, naming the field.
func TestUploadRules(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		tok := rwToken(t, "acct")
		if r := e.send(http.MethodPost, "/v1/resources", tok, map[string]any{"name": "taken", "directory_path": "/d",
			"content": dataURL("text/plain", []byte("x"))}); r.status != http.StatusOK {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		ok := []string{"name", "n", "directory_path", "/d"}
		for _, tt := range []struct {
			name   string
			meta   []string
			length int
			status int
			msg    string
		}{
			{"no name", []string{"directory_path", "/d"}, 1, 400, "Upload-Metadata: name:"},
			{"bad path", []string{"name", "n", "directory_path", "d/"}, 1, 400, "Upload-Metadata: directory_path:"},
			{"bad tag", append(ok, "tags", "a,"+strings.Repeat("x", 65)), 1, 400, "Upload-Metadata: tags"},
			{"metadata not JSON", append(ok, "metadata", "{"), 1, 400, "Upload-Metadata: metadata:"},
			{"metadata not an object", append(ok, "metadata", "[1]"), 1, 400, "Upload-Metadata: metadata:"},
			{"bad sha256", append(ok, "sha256", "abc"), 1, 400, "Upload-Metadata: sha256:"},
			{"bad mime_type", append(ok, "mime_type", "not a type"), 1, 400, "Upload-Metadata: mime_type:"},
			{"path taken", []string{"name", "taken", "directory_path", "/d"}, 1, 409, `"/d/taken" already exists`},
			{"too long", ok, 11 << 30, 413, "maximum size exceeded"},
		} {
			r := e.createUpload(tok, tt.length, tusMeta(tt.meta...), nil)
			if r.status != tt.status || !strings.Contains(r.errorMessage(t), tt.msg) {
				t.Errorf("%s: %d %s, want %d saying %q", tt.name, r.status, r.body, tt.status, tt.msg)
			}
		}
		r := e.doBody(http.MethodPost, "/v1/uploads", tok, http.Header{"Upload-Length": {"1"}, "Upload-Metadata": {tusMeta(ok...)}}, nil)
		if r.status != http.StatusPreconditionFailed {
			t.Errorf("without Tus-Resumable: %d %s, want 412", r.status, r.body)
		}
		if up := e.get("/v1/resources", tok); !strings.Contains(string(up.body), `"total":1`) {
			t.Errorf("refusals stored something: %s", up.body)
		}
	})
}

// TestUploadCompletionRace: another resource takes the path while the
// upload's bytes arrive; the last PATCH is 409, nothing is created and the
// bytes are gone. A sha256 that does not match fails the same way.
func TestUploadCompletionRefusals(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		tok := rwToken(t, "acct")
		data := []byte("the upload's bytes")
		taken := e.mustCreateUpload(tok, len(data), tusMeta("name", "n", "directory_path", "/d"))
		if r := e.send(http.MethodPost, "/v1/resources", tok, map[string]any{"name": "n", "directory_path": "/d",
			"content": dataURL("text/plain", []byte("first"))}); r.status != http.StatusOK {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		if r := e.patch(taken, tok, 0, data); r.status != http.StatusConflict || !strings.Contains(r.errorMessage(t), "already exists") {
			t.Errorf("completing onto a taken path: %d %s, want 409", r.status, r.body)
		}
		wrong := e.mustCreateUpload(tok, len(data), tusMeta("name", "m", "directory_path", "/d", "sha256", hexSHA256([]byte("other"))))
		if r := e.patch(wrong, tok, 0, data); r.status != http.StatusBadRequest || !strings.Contains(r.errorMessage(t), "sha256") {
			t.Errorf("completing with the wrong sha256: %d %s, want 400", r.status, r.body)
		}
		for _, p := range []string{taken, wrong} {
			id := strings.TrimPrefix(p, "/v1/uploads/")
			if r := e.get("/v1/resource/"+id, tok); r.status != http.StatusNotFound {
				t.Errorf("resource %s exists after a failed upload: %d", id, r.status)
			}
			if got := e.offsetOf(p, tok); got != -1 {
				t.Errorf("failed upload %s still answers HEAD with offset %d", id, got)
			}
		}
		if list := e.get("/v1/resources", tok); !strings.Contains(string(list.body), `"total":1`) {
			t.Errorf("resources after failed uploads: %s", list.body)
		}
		assertNoOrphans(t, e)
	})
}

// TestUploadAccess: authentication before any byte, the write scope on
// every route, and another account's upload is one that does not exist.
func TestUploadAccess(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		tok := rwToken(t, "acct")
		path := e.mustCreateUpload(tok, 4, tusMeta("name", "n", "directory_path", "/d"))
		if r := e.patch(path, "", 0, []byte("abcd")); r.status != http.StatusUnauthorized {
			t.Errorf("anonymous PATCH: %d", r.status)
		}
		if r := e.createUpload("", 4, tusMeta("name", "n2", "directory_path", "/d"), nil); r.status != http.StatusUnauthorized {
			t.Errorf("anonymous POST: %d", r.status)
		}
		if r := e.patch(path, readToken(t, "acct"), 0, []byte("abcd")); r.status != http.StatusForbidden {
			t.Errorf("PATCH with a read-only token: %d", r.status)
		}
		other := rwToken(t, "other")
		if got := e.offsetOf(path, other); got != -1 {
			t.Errorf("HEAD by another account: offset %d", got)
		}
		if r := e.patch(path, other, 0, []byte("abcd")); r.status != http.StatusNotFound {
			t.Errorf("PATCH by another account: %d %s", r.status, r.body)
		}
		if r := e.doBody(http.MethodDelete, path, other, tusHeader(), nil); r.status != http.StatusNotFound {
			t.Errorf("DELETE by another account: %d %s", r.status, r.body)
		}
		if r := e.get(path, other); r.status != http.StatusNotFound {
			t.Errorf("GET by another account: %d %s", r.status, r.body)
		}
		if got := e.offsetOf(path, tok); got != 0 {
			t.Errorf("the owner's HEAD after the others: %d", got)
		}
	})
}

// TestUploadTerminateAndLimits: DELETE ends an upload and frees its place
// among the account's MAX_OPEN_UPLOADS.
func TestUploadTerminateAndLimits(t *testing.T) {
	for _, engine := range storetest.Engines {
		t.Run(engine, func(t *testing.T) {
			e := newEnvWith(t, engine, func(c config) { c.Catalog.MaxOpenUploads = 2 })
			tok := rwToken(t, "acct")
			a := e.mustCreateUpload(tok, 10, tusMeta("name", "a", "directory_path", "/d"))
			e.mustCreateUpload(tok, 10, tusMeta("name", "b", "directory_path", "/d"))
			if r := e.createUpload(tok, 10, tusMeta("name", "c", "directory_path", "/d"), nil); r.status != http.StatusTooManyRequests {
				t.Errorf("a third open upload: %d %s, want 429", r.status, r.body)
			}
			if r := e.patch(a, tok, 0, []byte("12345")); r.status != http.StatusNoContent {
				t.Fatalf("PATCH: %d %s", r.status, r.body)
			}
			if r := e.doBody(http.MethodDelete, a, tok, tusHeader(), nil); r.status != http.StatusNoContent {
				t.Fatalf("DELETE: %d %s", r.status, r.body)
			}
			if got := e.offsetOf(a, tok); got != -1 {
				t.Errorf("HEAD after DELETE: offset %d", got)
			}
			e.mustCreateUpload(tok, 10, tusMeta("name", "c", "directory_path", "/d"))
			assertNoOrphans(t, e)
		})
	}
}

// TestUploadLimitRacingCreates: creates racing for one account never pass
// MAX_OPEN_UPLOADS, and the refused leave nothing behind.
func TestUploadLimitRacingCreates(t *testing.T) {
	for _, engine := range storetest.Engines {
		t.Run(engine, func(t *testing.T) {
			e := newEnvWith(t, engine, func(c config) { c.Catalog.MaxOpenUploads = 3 })
			tok := rwToken(t, "acct")
			const racers = 20
			count := raceStatuses(racers, func(i int) int {
				return e.createUpload(tok, 10, tusMeta("name", "f"+strconv.Itoa(i), "directory_path", "/d"), nil).status
			})
			if count[http.StatusCreated] != 3 || count[http.StatusTooManyRequests] != racers-3 {
				t.Errorf("statuses %v, want 3 × 201 and %d × 429", count, racers-3)
			}
			assertNoOrphans(t, e)
			// A Live that claims nothing lists every partial object's bytes:
			// the three uploads', none of the refused.
			partials := 0
			err := e.blobs.Orphans(context.Background(), time.Now().Add(time.Hour),
				func(ctx context.Context, fn func(string) error) error {
					return e.db.StorageKeys(ctx, e.blobs.Bucket(), fn)
				},
				func(context.Context, blobstore.Orphan) (bool, error) { return false, nil }, false,
				func(o blobstore.Orphan) error {
					if o.Partial != "" {
						partials++
					}
					return nil
				})
			if err != nil || partials != 3 {
				t.Errorf("partial objects: %d, %v; want the 3 open uploads'", partials, err)
			}
		})
	}
}

// TestUploadDeferredAndWithUpload: a length declared by a later PATCH, and
// bytes sent with the creation.
func TestUploadDeferredAndWithUpload(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		tok := rwToken(t, "acct")
		r := e.doBody(http.MethodPost, "/v1/uploads", tok, tusHeader("Upload-Defer-Length", "1",
			"Upload-Metadata", tusMeta("name", "later", "directory_path", "/d")), nil)
		if r.status != http.StatusCreated {
			t.Fatalf("deferred creation: %d %s", r.status, r.body)
		}
		loc := r.header.Get("Location")
		path := loc[strings.Index(loc, "/v1/uploads/"):]
		if r := e.patch(path, tok, 0, []byte("abc")); r.status != http.StatusNoContent {
			t.Fatalf("PATCH before the length: %d %s", r.status, r.body)
		}
		h := tusHeader("Upload-Offset", "3", "Upload-Length", "6", "Content-Type", "application/offset+octet-stream")
		if r := e.doBody(http.MethodPatch, path, tok, h, []byte("def")); r.status != http.StatusNoContent {
			t.Fatalf("PATCH declaring the length: %d %s", r.status, r.body)
		}
		id := strings.TrimPrefix(path, "/v1/uploads/")
		if c := e.get("/v1/resource/"+id+"/content", tok); string(c.body) != "abcdef" {
			t.Errorf("deferred upload's content: %d %q", c.status, c.body)
		}

		r = e.createUpload(tok, 5, tusMeta("name", "at-once", "directory_path", "/d"), []byte("hello"))
		if r.status != http.StatusCreated || r.header.Get("Upload-Offset") != "5" {
			t.Fatalf("creation with upload: %d %v %s", r.status, r.header, r.body)
		}
		loc = r.header.Get("Location")
		if c := e.get("/v1/resource/"+loc[strings.LastIndex(loc, "/")+1:], tok); c.status != http.StatusOK ||
			!strings.Contains(string(c.body), `"mime_type":"text/plain; charset=utf-8"`) {
			t.Errorf("resource of a creation with upload: %d %s", c.status, c.body)
		}
	})
}

// TestUploadDiscovery: OPTIONS tells the protocol without a token, and a
// browser's preflight may send and read the tus headers.
func TestUploadDiscovery(t *testing.T) {
	e := newEnvWith(t, storetest.Engines[0], func(c config) { c.CORSAllowedOrigins = []string{"https://app.example"} })
	r := e.do(http.MethodOptions, "/v1/uploads", "", nil)
	if r.status != http.StatusOK || r.header.Get("Tus-Version") != "1.0.0" ||
		r.header.Get("Tus-Max-Size") != strconv.Itoa(10<<30) || !strings.Contains(r.header.Get("Tus-Extension"), "creation-with-upload") {
		t.Errorf("OPTIONS: %d %v", r.status, r.header)
	}
	req, _ := http.NewRequest(http.MethodOptions, e.url+"/v1/uploads", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", http.MethodPatch)
	req.Header.Set("Access-Control-Request-Headers", "authorization,tus-resumable,upload-offset,content-type")
	status, h, _ := testkit.Send(t, req)
	if status != http.StatusNoContent || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "PATCH") ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Upload-Offset") {
		t.Errorf("preflight: %d %v", status, h)
	}
	tok := rwToken(t, "acct")
	r = e.doBody(http.MethodPost, "/v1/uploads", tok, tusHeader("Origin", "https://app.example", "Upload-Length", "1",
		"Upload-Metadata", tusMeta("name", "n", "directory_path", "/d")), nil)
	for _, want := range []string{"Location", "Upload-Offset", "Upload-Length", "Tus-Resumable", "Upload-Expires"} {
		if !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), want) {
			t.Errorf("CORS does not expose %s: %q", want, r.header.Get("Access-Control-Expose-Headers"))
		}
	}
}

// TestUploadThroughLink: an upload link's holder uploads within its rules;
// the resource carries the link's tags and its use is taken once.
func TestUploadThroughLink(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		tok := rwToken(t, "acct")
		up := e.createUploadLink(tok, map[string]any{"directory_path": "/inbox", "max_bytes": 100,
			"mime_types": []string{"application/pdf"}, "max_uploads": 1, "tags": []string{"partner"}})
		for _, tt := range []struct {
			name   string
			meta   []string
			length int
			status int
		}{
			{"outside the folder", []string{"name", "a", "directory_path", "/else", "mime_type", "application/pdf"}, 10, 403},
			{"wrong type", []string{"name", "a", "directory_path", "/inbox", "mime_type", "text/html"}, 10, 403},
			{"too large", []string{"name", "a", "directory_path", "/inbox", "mime_type", "application/pdf"}, 101, 413},
		} {
			if r := e.createUpload(up.Token, tt.length, tusMeta(tt.meta...), nil); r.status != tt.status {
				t.Errorf("%s: %d %s, want %d", tt.name, r.status, r.body, tt.status)
			}
		}
		path := e.mustCreateUpload(up.Token, 4, tusMeta("name", "a.pdf", "directory_path", "/inbox", "mime_type", "application/pdf"))
		if r := e.patch(path, up.Token, 0, []byte("%PDF")); r.status != http.StatusNoContent {
			t.Fatalf("PATCH through the link: %d %s", r.status, r.body)
		}
		got := e.get("/v1/resource/"+strings.TrimPrefix(path, "/v1/uploads/"), tok)
		if !strings.Contains(string(got.body), `"tags":["partner"]`) || !strings.Contains(string(got.body), `"created_by":"upload-link:`+up.ID+`"`) {
			t.Errorf("resource through the link: %s", got.body)
		}
		if r := e.createUpload(up.Token, 4, tusMeta("name", "b.pdf", "directory_path", "/inbox", "mime_type", "application/pdf"), nil); r.status != http.StatusUnauthorized {
			t.Errorf("past the link's one use: %d %s", r.status, r.body)
		}
	})
}

// TestUploadBeyondContentLimit: one PATCH may carry more than
// MAX_CONTENT_BYTES, which caps only the JSON create.
func TestUploadBeyondContentLimit(t *testing.T) {
	e := newEnvWith(t, storetest.Engines[0], func(c config) { c.Catalog.MaxContentBytes = 1 << 10 })
	tok := rwToken(t, "acct")
	data := randomBytes(3 << 20)
	path := e.mustCreateUpload(tok, len(data), tusMeta("name", "big", "directory_path", "/d"))
	if r := e.patch(path, tok, 0, data); r.status != http.StatusNoContent {
		t.Fatalf("PATCH of %d bytes: %d %s", len(data), r.status, r.body)
	}
	if c := e.get("/v1/resource/"+strings.TrimPrefix(path, "/v1/uploads/")+"/content", tok); !bytes.Equal(c.body, data) {
		t.Errorf("content: %d, %d bytes", c.status, len(c.body))
	}
}

// TestUploadEvents: a completed upload is one resource.created event, as a
// JSON create is, and a refused completion is none.
func TestUploadEvents(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		tok := rwToken(t, "acct")
		path := e.mustCreateUpload(tok, 3, tusMeta("name", "n", "directory_path", "/d"))
		if r := e.patch(path, tok, 0, []byte("abc")); r.status != http.StatusNoContent {
			t.Fatalf("PATCH: %d %s", r.status, r.body)
		}
		bad := e.mustCreateUpload(tok, 3, tusMeta("name", "m", "directory_path", "/d", "sha256", hexSHA256([]byte("no"))))
		if r := e.patch(bad, tok, 0, []byte("abc")); r.status != http.StatusBadRequest {
			t.Fatalf("PATCH with a wrong sha256: %d %s", r.status, r.body)
		}
		l := e.events("", tok)
		if types(l.Items) != "1 resource.created" || !strings.Contains(fmt.Sprint(l.Items[0].Data["resource"]), "id:"+strings.TrimPrefix(path, "/v1/uploads/")) {
			t.Errorf("events: %s, %v", types(l.Items), l.Items)
		}
	})
}

// TestUploadExpiry: OPTIONS advertises expiration; POST, HEAD and PATCH send
// Upload-Expires; a PATCH that stores bytes moves it on; past it, the
// upload's routes answer 410 to its account and 404 to another.
func TestUploadExpiry(t *testing.T) {
	for _, engine := range storetest.Engines {
		t.Run(engine, func(t *testing.T) {
			var now atomic.Pointer[time.Time]
			setNow := func(t time.Time) { now.Store(&t) }
			setNow(time.Now().UTC().Truncate(time.Second))
			e := newEnvWith(t, engine, func(c config) {
				c.Catalog.UploadExpiry = time.Hour
				c.Catalog.Now = func() time.Time { return *now.Load() }
			})
			if r := e.do(http.MethodOptions, "/v1/uploads", "", nil); !strings.Contains(r.header.Get("Tus-Extension"), "expiration") {
				t.Errorf("OPTIONS: Tus-Extension %q lacks expiration", r.header.Get("Tus-Extension"))
			}
			expires := func(what string, h http.Header, want time.Time) {
				t.Helper()
				got, err := http.ParseTime(h.Get("Upload-Expires"))
				if err != nil || !got.Equal(want) {
					t.Errorf("%s: Upload-Expires %q, want %s", what, h.Get("Upload-Expires"), want.Format(http.TimeFormat))
				}
			}
			tok := rwToken(t, "acct")
			r := e.createUpload(tok, 10, tusMeta("name", "a", "directory_path", "/d"), nil)
			if r.status != http.StatusCreated {
				t.Fatalf("create: %d %s", r.status, r.body)
			}
			expires("POST", r.header, now.Load().Add(time.Hour))
			path := r.header.Get("Location")[strings.Index(r.header.Get("Location"), "/v1/uploads/"):]

			setNow(now.Load().Add(50 * time.Minute))
			r = e.patch(path, tok, 0, []byte("1234"))
			if r.status != http.StatusNoContent {
				t.Fatalf("PATCH: %d %s", r.status, r.body)
			}
			moved := now.Load().Add(time.Hour)
			expires("PATCH", r.header, moved)
			status, h := e.head(path, tok)
			if status != http.StatusOK {
				t.Fatalf("HEAD: %d", status)
			}
			expires("HEAD", h, moved)

			// Past the creation's expiry, not the PATCH's: still there.
			setNow(now.Load().Add(30 * time.Minute))
			if got := e.offsetOf(path, tok); got != 4 {
				t.Fatalf("HEAD past the creation's expiry: offset %d, want 4", got)
			}
			setNow(moved)
			if status, _ := e.head(path, tok); status != http.StatusGone {
				t.Errorf("HEAD of an expired upload: %d, want 410", status)
			}
			r = e.patch(path, tok, 4, []byte("56"))
			if r.status != http.StatusGone || !strings.Contains(string(r.body), "expired") {
				t.Errorf("PATCH of an expired upload: %d %s, want 410", r.status, r.body)
			}
			if r := e.get(path, tok); r.status != http.StatusGone {
				t.Errorf("GET of an expired upload: %d %s, want 410", r.status, r.body)
			}
			if r := e.doBody(http.MethodDelete, path, tok, tusHeader(), nil); r.status != http.StatusGone {
				t.Errorf("DELETE of an expired upload: %d %s, want 410", r.status, r.body)
			}
			if status, _ := e.head(path, rwToken(t, "other")); status != http.StatusNotFound {
				t.Errorf("HEAD of another account's expired upload: %d, want 404", status)
			}
		})
	}
}
