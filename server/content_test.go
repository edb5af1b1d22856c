package server_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/re-factor/resources/blobstore/blobtest"
)

// newProbedEnv serves on SQLite and storage of the kind behind a probe that
// sees every read the server opens.
func newProbedEnv(t *testing.T, kind string) (*env, *blobtest.Probe) {
	t.Helper()
	blobs, probe := blobtest.OpenProbed(t, kind)
	e := newEnvOn(t, "sqlite", kind, func(c config) { c.Catalog.Blobs = blobs })
	e.blobs = blobs
	return e, probe
}

// TestDownloadOpensOnce counts the reads a download opens: one for a plain
// or single-range download, of exactly the bytes sent, none for a 304 or a
// 416, one per part of a multi-range one (whose parts are bounded: past 16,
// the whole content is sent). On S3 every read after the first
// goes out on a pooled connection, so the one before it was read to its end
// and given back, not dropped.
func TestDownloadOpensOnce(t *testing.T) {
	for _, kind := range blobtest.Kinds {
		t.Run(kind, func(t *testing.T) {
			e, probe := newProbedEnv(t, kind)
			tok := rwToken(t, "acct")
			content := make([]byte, 100_000)
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range content {
				content[i] = byte(rng.Uint32())
			}
			id := e.mustCreate(tok, map[string]any{"name": "n.bin", "directory_path": "/", "content": dataURL("application/octet-stream", content)})["id"].(string)
			empty := e.mustCreate(tok, map[string]any{"name": "empty", "directory_path": "/", "content": dataURL("text/plain", nil)})["id"].(string)
			path := "/v1/resource/" + id + "/content"
			e.get(path, tok) // the first read may need a new connection

			n := int64(len(content))
			tests := []struct {
				name   string
				path   string
				header http.Header
				status int
				body   []byte
				reads  []blobtest.Read // Key and Reused are checked apart
			}{
				{"plain", path, nil, http.StatusOK, content, []blobtest.Read{{Offset: 0, Length: n}}},
				{"range", path, http.Header{"Range": {"bytes=10-19"}}, http.StatusPartialContent, content[10:20], []blobtest.Read{{Offset: 10, Length: 10}}},
				{"suffix range", path, http.Header{"Range": {"bytes=-5"}}, http.StatusPartialContent, content[n-5:], []blobtest.Read{{Offset: n - 5, Length: 5}}},
				{"open range", path, http.Header{"Range": {"bytes=99990-"}}, http.StatusPartialContent, content[99990:], []blobtest.Read{{Offset: 99990, Length: 10}}},
				{"not modified", path, http.Header{"If-None-Match": {`"` + sha(content) + `"`}}, http.StatusNotModified, nil, nil},
				{"range past the end", path, http.Header{"Range": {"bytes=200000-"}}, http.StatusRequestedRangeNotSatisfiable, nil, nil},
				{"empty content", "/v1/resource/" + empty + "/content", nil, http.StatusOK, []byte{}, []blobtest.Read{{Offset: 0, Length: -1}}},
				{"too many ranges", path, http.Header{"Range": {"bytes=0-0" + strings.Repeat(",2-2", 16)}}, http.StatusOK, content, []blobtest.Read{{Offset: 0, Length: n}}},
				// Last: the parts after the first are opened to the end and
				// dropped unread, so their connections are not reused.
				{"multi-range", path, http.Header{"Range": {"bytes=0-1,5-6"}}, http.StatusPartialContent, nil, []blobtest.Read{{Offset: 0, Length: -1}, {Offset: 5, Length: -1}}},
			}
			for _, tt := range tests {
				before := len(probe.Reads())
				r := e.do(http.MethodGet, tt.path, tok, tt.header)
				if r.status != tt.status || tt.body != nil && !bytes.Equal(r.body, tt.body) {
					t.Errorf("%s: %d with %d bytes, want %d with %d", tt.name, r.status, len(r.body), tt.status, len(tt.body))
				}
				reads := probe.Reads()[before:]
				var got []blobtest.Read
				for _, rd := range reads {
					got = append(got, blobtest.Read{Offset: rd.Offset, Length: rd.Length})
				}
				if !slices.Equal(got, tt.reads) {
					t.Errorf("%s: opened %+v, want %+v", tt.name, got, tt.reads)
				}
				for _, rd := range reads {
					if kind == "s3" && tt.name != "multi-range" && !rd.Reused {
						t.Errorf("%s: the read at %d went out on a new connection", tt.name, rd.Offset)
					}
				}
			}
		})
	}
}

// TestDownloadStorageFails makes opening the bytes fail: the answer is a
// 503 {"error"} with Retry-After and none of the content's headers, not a
// 200 cut off before its body.
func TestDownloadStorageFails(t *testing.T) {
	e, probe := newProbedEnv(t, "file")
	tok := rwToken(t, "acct")
	id := e.mustCreate(tok, map[string]any{"name": "n", "directory_path": "/", "content": dataURL("text/plain", []byte("0123456789"))})["id"].(string)
	probe.FailOpens(errors.New("injected storage failure"))
	for _, header := range []http.Header{nil, {"Range": {"bytes=2-4"}}} {
		r := e.do(http.MethodGet, "/v1/resource/"+id+"/content", tok, header)
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Fatalf("%v: %d (Retry-After %q) %s, want 503 with Retry-After", header, r.status, r.header.Get("Retry-After"), r.body)
		}
		if msg := r.errorMessage(t); strings.Contains(msg, "injected") {
			t.Errorf("%v: the message %q tells the cause", header, msg)
		}
		for _, h := range []string{"ETag", "Content-Disposition", "Content-Range", "Accept-Ranges", "Last-Modified"} {
			if v := r.header.Get(h); v != "" {
				t.Errorf("%v: 503 carries %s: %s", header, h, v)
			}
		}
	}
	probe.FailOpens(nil)
	if r := e.get("/v1/resource/"+id+"/content", tok); r.status != http.StatusOK || string(r.body) != "0123456789" {
		t.Errorf("after the storage is back: %d %q", r.status, r.body)
	}
}
