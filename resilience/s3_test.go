package resilience

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/re-factor/resources/blobstore/blobtest"
)

// s3Outage is how long TestS3Outage keeps S3 unreachable.
const s3Outage = 6 * time.Second

// TestS3Outage cuts the network between the server and its S3 store under
// load and restores it: answers are 200 or 503 {"error"}, never 500 or a
// dropped connection, and the server recovers by itself.
//
// Blob operations have no deadline of their own yet: the S3 client retries
// with backoff, so a request may wait out a short outage instead of failing
// at once. The bound checked is therefore the outage plus the usual slack,
// not the statement timeout; see SECURITY.md.
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
	l := newLoader(t, srv.url, []string{"a", "b"}, 50, 1<<40)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { l.run(ctx, 4) })
	defer func() { cancel(); wg.Wait() }()

	time.Sleep(time.Second)
	link.cut()
	time.Sleep(s3Outage)
	before, _ := l.snapshot()
	link.restore(t)
	waitOK(t, l, before, 20*time.Second)
	cancel()
	wg.Wait()
	if before[http.StatusServiceUnavailable] == 0 {
		t.Errorf("no 503 while S3 was unreachable: %v", before)
	}
	checkFaultAnswers(t, l, s3Outage+slowest)
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
	c := &cutter{upstream: upstream, conns: map[net.Conn]bool{}}
	c.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
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
