package blobstore_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/internal/testkit"
)

// TestSignedURL reads an object through a signed URL without credentials,
// with the response headers asked for, and is refused once the URL has
// expired (on S3, the storage's clock: this test waits for it).
func TestSignedURL(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string, st *blobstore.Store) {
		ctx := context.Background()
		b := content(7, 3000)
		put(t, st, "signed/a", b)
		if kind == "file" {
			if err := st.CanSign(ctx); !errors.Is(err, blobstore.ErrCannotSign) {
				t.Errorf("CanSign = %v, want ErrCannotSign", err)
			}
			return
		}
		if err := st.CanSign(ctx); err != nil {
			t.Fatalf("CanSign: %v", err)
		}
		const disposition = `attachment; filename="a.bin"`
		u, err := st.SignedURL(ctx, "signed/a", time.Second, "image/png", disposition)
		if err != nil {
			t.Fatal(err)
		}
		status, h, got := fetch(t, u, nil)
		if status != http.StatusOK || !bytes.Equal(got, b) {
			t.Fatalf("GET signed URL: %d, %d bytes; want 200 and the object", status, len(got))
		}
		if h.Get("Content-Disposition") != disposition || h.Get("Content-Type") != "image/png" {
			t.Errorf("headers = %v, want the disposition and type asked for", h)
		}
		status, _, got = fetch(t, u, http.Header{"Range": {"bytes=10-19"}})
		if status != http.StatusPartialContent || !bytes.Equal(got, b[10:20]) {
			t.Errorf("ranged GET: %d %q", status, got)
		}
		if status, _, _ := fetchMethod(t, http.MethodDelete, u); status < 400 {
			t.Errorf("DELETE through a URL signed for GET: %d", status)
		}
		time.Sleep(2100 * time.Millisecond)
		if status, _, _ := fetch(t, u, nil); status != http.StatusForbidden {
			t.Errorf("GET an expired signed URL: %d, want 403", status)
		}
	})
}

func fetch(t *testing.T, u string, h http.Header) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	return testkit.Send(t, req)
}

func fetchMethod(t *testing.T, method, u string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return testkit.Send(t, req)
}
