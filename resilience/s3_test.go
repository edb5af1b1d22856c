package resilience

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/re-factor/resources/blobstore/blobtest"
	"github.com/re-factor/resources/internal/testkit"
)

// With the default BLOB_TIMEOUT, the first 503 comes back within
// s3FirstFailure of losing S3, and no answer takes longer than s3Slowest:
// each blob operation has its own deadline, which also ends the S3
// client's retries.
const (
	s3FirstFailure = 5 * time.Second
	s3Slowest      = 6 * time.Second
)

// TestS3Outage cuts the network between the server and its S3 store under
// load until the first 503 comes back, then restores it: answers are 200
// or 503 {"error"}, never 500 or a dropped connection, the first 503
// within s3FirstFailure, none slower than s3Slowest, and the server
// recovers by itself.
func TestS3Outage(t *testing.T) {
	blobURL := blobtest.S3URL(t)
	u, err := url.Parse(blobURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	upstream, err := url.Parse(q.Get("endpoint"))
	if err != nil {
		t.Fatal(err)
	}
	link := newCutter(t, upstream.Host)
	q.Set("endpoint", "http://"+link.addr)
	u.RawQuery = q.Encode()

	c := newCluster(t)
	srv := startServer(t, "DATABASE_URL="+c.url(), "BLOB_URL="+u.String(),
		"AWS_ACCESS_KEY_ID="+blobtest.AccessKey, "AWS_SECRET_ACCESS_KEY="+blobtest.SecretKey,
		"DB_STATEMENT_TIMEOUT="+stmtTimeout.String())
	l := newLoader(t, srv.URL, []string{"a", "b"}, 50, 1<<40)
	l.truncatedOK = true
	stopLoad := l.start(4)
	defer stopLoad()

	time.Sleep(time.Second)
	link.cut()
	cutAt := time.Now()
	for now, _ := l.snapshot(); now[http.StatusServiceUnavailable] == 0; now, _ = l.snapshot() {
		if time.Since(cutAt) > s3FirstFailure {
			t.Fatalf("no 503 within %v of losing S3: %v", s3FirstFailure, now)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("first 503 %v after S3 went away", time.Since(cutAt).Round(time.Millisecond))
	time.Sleep(time.Second)
	before, _ := l.snapshot()
	link.restore(t)
	waitOK(t, l, before, 20*time.Second)
	stopLoad()
	checkFaultAnswers(t, l, s3Slowest)
}

// cutter is a TCP relay to an upstream that can be cut (every connection
// closed, new ones refused) and restored on the same address.
type cutter struct {
	addr, upstream string
	mu             sync.Mutex
	ln             net.Listener
	conns          map[net.Conn]bool
}

func newCutter(t *testing.T, upstream string) *cutter {
	addr, err := testkit.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{upstream: upstream, addr: addr, conns: map[net.Conn]bool{}}
	c.restore(t)
	t.Cleanup(c.cut)
	return c
}

func (c *cutter) restore(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.ln = ln
	c.mu.Unlock()
	go c.accept(ln)
}

func (c *cutter) accept(ln net.Listener) {
	for {
		down, err := ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", c.upstream)
		if err != nil {
			down.Close()
			continue
		}
		c.mu.Lock()
		c.conns[down], c.conns[up] = true, true
		c.mu.Unlock()
		go func() { io.Copy(up, down); up.Close() }()
		go func() { io.Copy(down, up); down.Close() }()
	}
}

func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ln != nil {
		c.ln.Close()
		c.ln = nil
	}
	for conn := range c.conns {
		conn.Close()
	}
	clear(c.conns)
}
