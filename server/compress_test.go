package server_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/re-factor/resources/internal/testkit"
)

// TestCompression checks which responses are compressed: JSON and the spec
// above the threshold when the client accepts it, never stored content
// (whatever its type), never small bodies.
func TestCompression(t *testing.T) {
	e := newEnv(t, "sqlite")
	tok := rwToken(t, "acct")
	content := []byte(`{"note": "` + strings.Repeat("stored JSON bytes ", 200) + `"}`)
	var id string
	for i := range 10 {
		id = e.mustCreate(tok, map[string]any{"name": "r" + string(rune('a'+i)) + ".json", "directory_path": "/c",
			"content": dataURL("application/json", content)})["id"].(string)
	}
	list := e.get("/v1/resources?page_size=100", tok).body
	if len(list) < 2048 {
		t.Fatalf("list is %d bytes, too small for this test", len(list))
	}
	for _, tt := range []struct {
		name, path, token, accept string
		encoding                  string
		plain                     []byte // what the decoded body must be; nil: not checked
	}{
		{"list gzip", "/v1/resources?page_size=100", tok, "gzip", "gzip", list},
		{"list zstd preferred", "/v1/resources?page_size=100", tok, "gzip, deflate, br, zstd", "zstd", list},
		{"list not accepted", "/v1/resources?page_size=100", tok, "identity", "", list},
		{"list gzip refused", "/v1/resources?page_size=100", tok, "gzip;q=0", "", list},
		{"spec", "/openapi.json", "", "gzip", "gzip", nil},
		{"small body", "/healthz", "", "gzip", "", []byte(`{"status":"ok"}` + "\n")},
		{"error body", "/v1/resources", "", "gzip", "", nil},
		{"content stays as stored", "/v1/resource/" + id + "/content", tok, "gzip, zstd", "", content},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, e.url+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Set explicitly, so the transport neither adds gzip nor decodes.
			req.Header.Set("Accept-Encoding", tt.accept)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			_, header, wire := testkit.Send(t, req)
			if got := header.Get("Content-Encoding"); got != tt.encoding {
				t.Fatalf("Content-Encoding = %q, want %q", got, tt.encoding)
			}
			if tt.path != "/v1/resource/"+id+"/content" && !strings.Contains(header.Get("Vary"), "Accept-Encoding") {
				t.Errorf("Vary = %q, want Accept-Encoding in it", header.Get("Vary"))
			}
			body := decode(t, tt.encoding, wire)
			if tt.plain != nil && !bytes.Equal(body, tt.plain) {
				t.Errorf("decoded body differs from the uncompressed one (%d and %d bytes)", len(body), len(tt.plain))
			}
			if tt.encoding != "" {
				t.Logf("%d bytes on the wire for %d", len(wire), len(body))
			}
		})
	}
	// A range of stored bytes is still the stored bytes.
	r := e.do(http.MethodGet, "/v1/resource/"+id+"/content", tok, http.Header{"Range": {"bytes=0-9"}, "Accept-Encoding": {"gzip"}})
	if r.status != http.StatusPartialContent || string(r.body) != string(content[:10]) || r.header.Get("Content-Encoding") != "" {
		t.Errorf("range = %d %q encoding %q, want 206 %q unencoded", r.status, r.body, r.header.Get("Content-Encoding"), content[:10])
	}
}

func decode(t testing.TB, encoding string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch encoding {
	case "":
		return b
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s: %v", encoding, err)
	}
	return out
}
