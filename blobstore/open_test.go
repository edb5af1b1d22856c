package blobstore_test

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/blobstore/blobtest"
)

// openRoundTrip opens the store at rawURL, checks that its bucket is the
// one named, and stores a little content through it and reads it back.
func openRoundTrip(t *testing.T, rawURL, bucket string) {
	t.Helper()
	ctx := context.Background()
	st, err := blobstore.Open(ctx, rawURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if st.Bucket() != bucket {
		t.Errorf("Bucket() = %q, want %q", st.Bucket(), bucket)
	}
	if err := st.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	key := blobstore.Key("acct-1", "round-trip")
	put(t, st, key, []byte("hello"))
	if got := get(t, st, key); string(got) != "hello" {
		t.Fatalf("read back %q, want hello", got)
	}
}

func TestOpenFileRelative(t *testing.T) {
	t.Chdir(t.TempDir())
	openRoundTrip(t, "file://data/blobs", "blobs")
	want := filepath.Join("data", "blobs", "accounts", "acct-1", "resources", "round-trip")
	if b, err := os.ReadFile(want); err != nil || string(b) != "hello" {
		t.Errorf("read %s: %q, %v; want hello", want, b, err)
	}
}

func TestOpenMem(t *testing.T) {
	openRoundTrip(t, "mem://", "mem")
}

func TestOpenErrors(t *testing.T) {
	for _, u := range []string{"nosuch://bucket", "file://", "file:///dev/null/blobs", "s3://b?nosuchparam=1", "::"} {
		if st, err := blobstore.Open(context.Background(), u); err == nil {
			st.Close()
			t.Errorf("Open(%q) succeeded", u)
		}
	}
}

// TestOpenS3 opens the test server's buckets by URL, credentials from the
// environment, as BLOB_URL does.
func TestOpenS3(t *testing.T) {
	raw := blobtest.S3URL(t)
	t.Setenv("AWS_ACCESS_KEY_ID", blobtest.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", blobtest.SecretKey)
	u, _ := url.Parse(raw)
	openRoundTrip(t, raw, u.Host)

	ctx := context.Background()

	u.Host = "blobtest-no-such-bucket"
	missing, err := blobstore.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer missing.Close()
	if err := missing.Ping(ctx); !errors.Is(err, blobstore.ErrUnavailable) {
		t.Errorf("Ping of a missing bucket: err = %v, want ErrUnavailable", err)
	}
	key := blobstore.Key("acct-1", "nowhere")
	if _, err := missing.Put(ctx, key, bytes.NewReader([]byte("x")), 10, ""); !errors.Is(err, blobstore.ErrUnavailable) {
		t.Errorf("Put into a missing bucket: err = %v, want ErrUnavailable", err)
	}
}

// TestPutStorageFails injects a storage failure: the directory that would hold
// the object is a file.
func TestPutStorageFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, err := blobstore.Open(context.Background(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := os.WriteFile(filepath.Join(dir, "accounts"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	key := blobstore.Key("acct-1", "blocked")
	_, err = st.Put(context.Background(), key, bytes.NewReader(content(6, 1000)), 10_000, "")
	if !errors.Is(err, blobstore.ErrUnavailable) {
		t.Fatalf("Put: err = %v, want ErrUnavailable", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || entries[0].Name() != "accounts" || entries[0].IsDir() {
		t.Errorf("after the failed Put the directory holds %v (%v), want only the file accounts", entries, err)
	}
}
