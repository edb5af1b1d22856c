package blobstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/blobstore/blobtest"
)

// timeout is the deadline the tests below give their stores: short, but for
// the S3 server, which shares a busy machine with everything else.
const timeout = 300 * time.Millisecond

func timeoutFor(kind string) time.Duration {
	if kind == "s3" {
		return 1500 * time.Millisecond
	}
	return timeout
}

// hangGuard fails the test if f has not returned after 30 s: without its
// deadline, a stalled operation waits forever.
func hangGuard(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s still waiting after 30 s", what)
	}
}

func TestStalledTransfers(t *testing.T) {
	for _, kind := range blobtest.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			st, probe := blobtest.OpenProbed(t, kind, blobstore.WithTimeout(timeoutFor(kind)))
			ctx := context.Background()
			key := blobstore.Key("acct-1", "stalled")
			put(t, st, key, content(1, 100_000))

			probe.StallReads(true)
			hangGuard(t, "a stalled read", func() {
				r, err := st.NewRangeReader(ctx, key, 0, -1)
				if err != nil {
					t.Errorf("NewRangeReader: %v", err)
					return
				}
				defer r.Close()
				if _, err := io.ReadAll(r); !errors.Is(err, blobstore.ErrUnavailable) {
					t.Errorf("read from a stalled storage: err = %v, want ErrUnavailable", err)
				}
			})
			probe.StallReads(false)

			probe.StallWrites(true)
			stuck := blobstore.Key("acct-1", "stuck")
			hangGuard(t, "a stalled write", func() {
				_, err := st.Put(ctx, stuck, bytes.NewReader(content(2, 100_000)), -1, "")
				if !errors.Is(err, blobstore.ErrUnavailable) {
					t.Errorf("Put to a stalled storage: err = %v, want ErrUnavailable", err)
				}
			})
			probe.StallWrites(false)
			if _, err := st.NewRangeReader(ctx, stuck, 0, -1); !errors.Is(err, blobstore.ErrNotFound) {
				t.Errorf("after a stalled Put: NewRangeReader err = %v, want ErrNotFound", err)
			}
		})
	}
}

// TestSlowTransfersNotCut checks that the deadline is on the storage's
// progress, not on the length of a transfer: a Put whose source pauses, and
// a read whose consumer pauses, each for longer than the timeout, both go
// through.
func TestSlowTransfersNotCut(t *testing.T) {
	for _, kind := range blobtest.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			slowTransfers(t, blobtest.Open(t, kind, blobstore.WithTimeout(timeoutFor(kind))), timeoutFor(kind))
		})
	}
}

func slowTransfers(t *testing.T, st *blobstore.Store, timeout time.Duration) {
	ctx := context.Background()
	key := blobstore.Key("acct-1", "slow")
	data := content(3, 2*chunk)
	w, err := st.Put(ctx, key, &slowReader{r: bytes.NewReader(data), pause: timeout + timeout/2, left: chunk}, -1, "")
	if err != nil || w.SHA256 != sha(data) {
		t.Fatalf("Put from a slow source: %+v, %v", w, err)
	}
	r, err := st.NewRangeReader(ctx, key, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(&slowReader{r: r, pause: timeout + timeout/2, left: chunk})
	if err != nil || sha(got) != sha(data) {
		t.Fatalf("slow read: %d bytes, %v; want %d", len(got), err, len(data))
	}
}

// chunk is how much a slowReader gives at a time.
const chunk = 64 << 10

// slowReader reads r, pausing before each chunk once left runs out.
type slowReader struct {
	r     io.Reader
	pause time.Duration
	left  int // of the current chunk
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.left == 0 {
		time.Sleep(s.pause)
		s.left = chunk
	}
	n, err := s.r.Read(p[:min(len(p), s.left)])
	s.left -= n
	return n, err
}

// TestUnreachableS3 points a store at an S3 endpoint that accepts
// connections and never answers, and at one that refuses them: every
// operation fails with ErrUnavailable at its deadline, without waiting for
// an answer that never comes or for the S3 client's retries.
func TestUnreachableS3(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", blobtest.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", blobtest.SecretKey)
	for name, endpoint := range map[string]string{"silent": blackHole(t), "refusing": refusing(t)} {
		t.Run(name, func(t *testing.T) {
			q := url.Values{"endpoint": {"http://" + endpoint}, "region": {blobtest.Region}}
			st, err := blobstore.Open(context.Background(), "s3://bucket?"+q.Encode(), blobstore.WithTimeout(timeout))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			ctx := context.Background()
			key := blobstore.Key("acct-1", "x")
			ops := map[string]func() error{
				"Ping":   func() error { return st.Ping(ctx) },
				"Delete": func() error { return st.Delete(ctx, key) },
				"Put": func() error {
					_, err := st.Put(ctx, key, strings.NewReader("hello"), -1, "text/plain")
					return err
				},
				"NewRangeReader": func() error {
					r, err := st.NewRangeReader(ctx, key, 0, -1)
					if err == nil {
						r.Close()
					}
					return err
				},
				"Orphans": func() error {
					return st.Orphans(ctx, time.Now(), referenced(), nil, false, func(blobstore.Orphan) error { return nil })
				},
			}
			for op, f := range ops {
				start := time.Now()
				var err error
				hangGuard(t, op, func() { err = f() })
				// The S3 client's retries (up to 3 tries, with backoff of
				// up to seconds) must end at the deadline too.
				if took := time.Since(start); !errors.Is(err, blobstore.ErrUnavailable) || took > timeout+2*time.Second {
					t.Errorf("%s: err = %v after %v, want ErrUnavailable at about %v", op, err, took.Round(time.Millisecond), timeout)
				}
			}
		})
	}
}

// blackHole returns the address of a listener that accepts connections and
// never answers on them.
func blackHole(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// refusing returns an address where nothing listens.
func refusing(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
