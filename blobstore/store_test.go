package blobstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/blobstore/blobtest"
)

const MiB = 1 << 20

func TestMain(m *testing.M) { blobtest.Main(m) }

// forEachKind runs f, in parallel, on a fresh store of every kind.
func forEachKind(t *testing.T, f func(t *testing.T, kind string, st *blobstore.Store)) {
	t.Helper()
	for _, kind := range blobtest.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			f(t, kind, blobtest.Open(t, kind))
		})
	}
}

// content returns n pseudo-random bytes, the same for the same seed.
func content(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// get reads the whole object at key.
func get(t *testing.T, st *blobstore.Store, key string) []byte {
	t.Helper()
	return getRange(t, st, key, 0, -1)
}

func getRange(t *testing.T, st *blobstore.Store, key string, offset, length int64) []byte {
	t.Helper()
	r, err := st.NewRangeReader(context.Background(), key, offset, length)
	if err != nil {
		t.Fatalf("NewRangeReader(%q, %d, %d): %v", key, offset, length, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %q [%d, +%d): %v", key, offset, length, err)
	}
	return b
}

// put stores b at key, failing the test on error.
func put(t *testing.T, st *blobstore.Store, key string, b []byte) blobstore.Written {
	t.Helper()
	w, err := st.Put(context.Background(), key, bytes.NewReader(b), -1, "application/octet-stream")
	if err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(b), err)
	}
	return w
}

// assertGone fails the test when anything is stored at key, as an object or,
// on S3, as an unfinished multipart upload.
func assertGone(t *testing.T, kind string, st *blobstore.Store, key string) {
	t.Helper()
	_, err := st.NewRangeReader(context.Background(), key, 0, -1)
	if !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("NewRangeReader(%q) after a failed Put: err = %v, want ErrNotFound", key, err)
	}
	if kind != "s3" {
		return
	}
	out, err := blobtest.S3Client(t).ListMultipartUploads(context.Background(),
		&s3.ListMultipartUploadsInput{Bucket: aws.String(st.Bucket())})
	if err != nil {
		t.Fatalf("ListMultipartUploads(%q): %v", st.Bucket(), err)
	}
	for _, u := range out.Uploads {
		t.Errorf("unfinished upload %s of %q left behind", aws.ToString(u.UploadId), aws.ToString(u.Key))
	}
}

func TestPutGet(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string, st *blobstore.Store) {
		for _, n := range []int{0, 1, 511, 512, 513, 100_000, 9*MiB + 7} {
			data := content(1, n)
			key := blobstore.Key("acct-1", "res-"+strconv.Itoa(n))
			w := put(t, st, key, data)
			if w.Size != int64(n) || w.SHA256 != sha(data) {
				t.Errorf("Put %d bytes: got size %d sha %s, want %d %s", n, w.Size, w.SHA256, n, sha(data))
			}
			if want := data[:min(n, blobstore.HeadSize)]; !bytes.Equal(w.Head, want) {
				t.Errorf("Put %d bytes: Head has %d bytes, want the first %d", n, len(w.Head), len(want))
			}
			if got := get(t, st, key); !bytes.Equal(got, data) {
				t.Errorf("read back %d bytes, want %d (equal: false)", len(got), n)
			}
		}
	})
}

func TestRangeRead(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string, st *blobstore.Store) {
		data := content(2, 10_000)
		key := blobstore.Key("acct-1", "ranges")
		put(t, st, key, data)
		for _, c := range []struct{ off, n int64 }{
			{0, 1}, {0, 10_000}, {1, 100}, {9_999, 1}, {5_000, -1}, {9_000, 5_000}, {0, 0},
		} {
			want := data[c.off:]
			if c.n >= 0 {
				want = want[:min(c.n, int64(len(want)))]
			}
			if got := getRange(t, st, key, c.off, c.n); !bytes.Equal(got, want) {
				t.Errorf("range (%d, %d): got %d bytes, want %d", c.off, c.n, len(got), len(want))
			}
		}
		_, err := st.NewRangeReader(context.Background(), blobstore.Key("acct-1", "missing"), 0, 10)
		if !errors.Is(err, blobstore.ErrNotFound) {
			t.Errorf("range of a missing key: err = %v, want ErrNotFound", err)
		}
	})
}

func TestPutLimit(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string, st *blobstore.Store) {
		ctx := context.Background()
		for _, max := range []int64{0, 100, 1000, 9 * MiB, 17 * MiB} {
			data := content(3, int(max)+1)
			exact := blobstore.Key("acct-1", "exact-"+strconv.Itoa(int(max)))
			w, err := st.Put(ctx, exact, bytes.NewReader(data[:max]), max, "")
			if err != nil || w.Size != max {
				t.Fatalf("Put of exactly %d bytes: size %d, err %v", max, w.Size, err)
			}
			over := blobstore.Key("acct-1", "over-"+strconv.Itoa(int(max)))
			_, err = st.Put(ctx, over, bytes.NewReader(data), max, "")
			if !errors.Is(err, blobstore.ErrTooLarge) {
				t.Fatalf("Put of %d bytes with max %d: err = %v, want ErrTooLarge", max+1, max, err)
			}
			assertGone(t, kind, st, over)
		}
	})
}

// failingReader yields n bytes of r, then fails with err.
type failingReader struct {
	r   io.Reader
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	p = p[:min(len(p), f.n)]
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func TestPutReaderFails(t *testing.T) {
	injected := errors.New("injected read failure")
	forEachKind(t, func(t *testing.T, kind string, st *blobstore.Store) {
		for _, n := range []int{0, 100, 600, 9 * MiB, 20 * MiB} {
			key := blobstore.Key("acct-1", "fails-at-"+strconv.Itoa(n))
			r := &failingReader{r: bytes.NewReader(content(4, n+1)), n: n, err: injected}
			_, err := st.Put(context.Background(), key, r, 25*MiB, "text/plain")
			if !errors.Is(err, injected) {
				t.Fatalf("Put failing after %d bytes: err = %v, want the injected error", n, err)
			}
			assertGone(t, kind, st, key)
		}
	})
}

// cancellingReader yields n bytes of r, then cancels its context and keeps
// yielding.
type cancellingReader struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
	} else {
		p = p[:min(len(p), c.n)]
	}
	n, err := c.r.Read(p)
	c.n -= n
	return n, err
}

func TestPutCancelled(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string, st *blobstore.Store) {
		for _, n := range []int{0, 300, 9 * MiB, 17 * MiB} {
			key := blobstore.Key("acct-1", "cancelled-at-"+strconv.Itoa(n))
			ctx, cancel := context.WithCancel(context.Background())
			r := &cancellingReader{r: bytes.NewReader(content(5, 20*MiB)), n: n, cancel: cancel}
			_, err := st.Put(ctx, key, r, 25*MiB, "")
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Put cancelled after %d bytes: err = %v, want context.Canceled", n, err)
			}
			assertGone(t, kind, st, key)
		}
	})
}

func TestDelete(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string, st *blobstore.Store) {
		ctx := context.Background()
		key := blobstore.Key("acct-1", "doomed")
		put(t, st, key, []byte("bytes"))
		for i := range 2 {
			if err := st.Delete(ctx, key); err != nil {
				t.Fatalf("Delete #%d: %v", i+1, err)
			}
		}
		if err := st.Delete(ctx, blobstore.Key("acct-1", "never-stored")); err != nil {
			t.Fatalf("Delete of a key never stored: %v", err)
		}
		assertGone(t, kind, st, key)
	})
}

func TestPing(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string, st *blobstore.Store) {
		if err := st.Ping(context.Background()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
	t.Run("file folder gone", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "blobs")
		st, err := blobstore.Open(context.Background(), (&url.URL{Scheme: "file", Path: dir}).String())
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
		if err := st.Ping(context.Background()); !errors.Is(err, blobstore.ErrUnavailable) {
			t.Errorf("Ping with the folder gone: %v, want ErrUnavailable", err)
		}
	})
}
