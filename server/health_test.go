package server_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/server"
)

// TestReadyz checks that /readyz answers 503 naming the reason while the
// storage is gone, 200 once it is back, and 503 at once when draining
// begins, from when on every response asks its client to close the
// connection.
func TestReadyz(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	blobs, err := blobstore.Open(context.Background(), (&url.URL{Scheme: "file", Path: dir}).String())
	if err != nil {
		t.Fatal(err)
	}
	defer blobs.Close()
	drain := server.NewDrain()
	e := newEnvWith(t, "sqlite", func(c config) { c.Catalog.Blobs, c.Drain = blobs, drain })
	waitReadyz(t, e, http.StatusOK, "")

	// Storage breaks as a file system can: its folder becomes a file.
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitReadyz(t, e, http.StatusServiceUnavailable, "storage unavailable")
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}
	waitReadyz(t, e, http.StatusOK, "")
	if closes(t, e, "/healthz") {
		t.Error("a response asks to close the connection before draining")
	}

	drain.Begin()
	r := e.get("/readyz", "")
	checkClientError(t, r, http.StatusServiceUnavailable, "shutting down")
	if got := r.header.Get("Retry-After"); got == "" {
		t.Error("503 without Retry-After")
	}
	for _, path := range []string{"/readyz", "/healthz", "/v1/resources"} {
		if !closes(t, e, path) {
			t.Errorf("GET %s while draining keeps the connection open", path)
		}
	}
}

// closes reports whether GET path's response says Connection: close (Go's
// client takes the header out and sets Response.Close).
func closes(t *testing.T, e *env, path string) bool {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+readToken(t, "acct"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Close
}

// waitReadyz polls /readyz until it answers status with the error reason
// ("" for 200), within a few of its check intervals.
func waitReadyz(t *testing.T, e *env, status int, reason string) response {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := e.get("/readyz", "")
		if r.status == status {
			if status != http.StatusOK {
				checkClientError(t, r, status, reason)
			}
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz = %d %s, want %d %q", r.status, r.body, status, reason)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
