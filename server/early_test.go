package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/re-factor/resources/catalog"
	"github.com/re-factor/resources/server"
	"github.com/re-factor/resources/store"
)

// countingListener remembers, for each connection, how many bytes the
// server had read from it when it wrote the first byte of its answer.
type countingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*countingConn
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cc := &countingConn{Conn: c, closed: make(chan struct{})}
	cc.readBeforeAnswer.Store(-1)
	l.mu.Lock()
	l.conns = append(l.conns, cc)
	l.mu.Unlock()
	return cc, nil
}

// last returns the connection accepted last.
func (l *countingListener) last() *countingConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conns[len(l.conns)-1]
}

type countingConn struct {
	net.Conn
	read, readBeforeAnswer atomic.Int64
	closeOnce              sync.Once
	closed                 chan struct{}
}

func (c *countingConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.readBeforeAnswer.CompareAndSwap(-1, c.read.Load())
	return c.Conn.Write(p)
}

// zeros is an endless body that costs no memory.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestRefusedBeforeTheBody sends large bodies that must be refused on their
// headers, and checks how much of each the server had read when it
// answered: the request's head and at most one read buffer, never the body.
func TestRefusedBeforeTheBody(t *testing.T) {
	u := newUnstartedEnv(t, store.SQLite, "file", func(c config) {
		c.RateLimit = server.RateLimit{RPS: 0.001, Burst: 1}
	})
	ln := &countingListener{Listener: u.srv.Listener}
	u.srv.Listener = ln
	u.srv.Start()
	e := u.env
	e.url = u.srv.URL
	limited := rwToken(t, "limited")
	if r := e.get("/v1/resources", limited); r.status != http.StatusOK {
		t.Fatalf("first request of the limited account = %d", r.status)
	}
	maxBody := server.MaxBodyBytes(catalog.DefaultMaxContentBytes)
	patch := "/v1/uploads/" + uuid.NewString() // a tus PATCH; "" for the JSON create
	tests := []struct {
		name, token, contentType string
		size                     int64 // the body's length
		chunked                  bool  // sent without a Content-Length
		status                   int
		patch                    string
	}{
		{"anonymous, 24 MiB", "", "application/json", 24 << 20, false, http.StatusUnauthorized, ""},
		{"anonymous, chunked past the limit", "", "application/json", maxBody + 1<<20, true, http.StatusUnauthorized, ""},
		{"anonymous, declared past the limit", "", "application/json", maxBody + 1, false, http.StatusRequestEntityTooLarge, ""},
		{"anonymous, not JSON", "", "text/plain", 24 << 20, false, http.StatusUnsupportedMediaType, ""},
		{"read-only token", readToken(t, "acct"), "application/json", 24 << 20, false, http.StatusForbidden, ""},
		{"over the rate limit", limited, "application/json", 24 << 20, true, http.StatusTooManyRequests, ""},
		{"tus PATCH, anonymous, 100 MiB", "", "application/offset+octet-stream", 100 << 20, false, http.StatusUnauthorized, patch},
		{"tus PATCH, anonymous, chunked", "", "application/offset+octet-stream", 100 << 20, true, http.StatusUnauthorized, patch},
		{"tus PATCH, read-only token, 100 MiB", readToken(t, "acct"), "application/offset+octet-stream", 100 << 20, false, http.StatusForbidden, patch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = io.LimitReader(zeros{}, tt.size)
			if tt.chunked {
				body = &onlyReader{body}
			}
			method, path := http.MethodPost, "/v1/resources"
			if tt.patch != "" {
				method, path = http.MethodPatch, tt.patch
			}
			req, err := http.NewRequest(method, e.url+path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.patch != "" {
				req.Header.Set("Tus-Resumable", "1.0.0")
				req.Header.Set("Upload-Offset", "0")
			}
			if !tt.chunked {
				req.ContentLength = tt.size
			}
			req.Header.Set("Content-Type", tt.contentType)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			r := response{status: resp.StatusCode, header: resp.Header, body: got}
			checkCommon(t, tt.name, r)
			if r.status != tt.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tt.status)
			}
			if !resp.Close {
				t.Errorf("no Connection: close on an answer that leaves the body unread")
			}
			// The head is under 1 KiB; net/http reads in 4 KiB blocks.
			conn := ln.last()
			if n := conn.readBeforeAnswer.Load(); n < 0 || n > 8<<10 {
				t.Errorf("the server read %d bytes before answering, want the head and at most one 4 KiB block", n)
			}
			// After the answer the client hangs up, and the server reads no
			// more than what the client had already sent its way.
			select {
			case <-conn.closed:
			case <-time.After(10 * time.Second): // a hang guard: linger ends within 3.2 s
				t.Fatal("the server still holds the connection 10 s after answering")
			}
			if n := conn.read.Load(); n > tt.size/2 {
				t.Errorf("the server read %d bytes in all, want much less than the %d-byte body", n, tt.size)
			}
		})
	}
}

// TestEarlyAnswersReachWholeBodyClients plays a client that writes its
// whole request before it reads a byte, as Python's urllib does: answers
// given before the body's end must reach it, not a connection reset. The
// bodies are larger than what socket buffers absorb (7 MB were seen).
func TestEarlyAnswersReachWholeBodyClients(t *testing.T) {
	e := newEnv(t, store.SQLite)
	tok := rwToken(t, "acct")
	maxBody := server.MaxBodyBytes(catalog.DefaultMaxContentBytes)
	tests := []struct {
		name   string
		token  string
		prefix string // the body's start; zeros fill it to size
		size   int64
		status int
		says   string
	}{
		{"anonymous", "", "", 24 << 20, http.StatusUnauthorized, "Authorization"},
		{"declared past the limit", tok, "", maxBody + 1<<20, http.StatusRequestEntityTooLarge, "larger than"},
		{"content refused part-way", tok, `{"name":"a","directory_path":"/","content":"data:x/y;base64,!!!!`, 24 << 20,
			http.StatusBadRequest, "request body:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head := fmt.Sprintf("POST /v1/resources HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", tt.size)
			if tt.token != "" {
				head += "Authorization: Bearer " + tt.token + "\r\n"
			}
			body := io.MultiReader(strings.NewReader(tt.prefix), io.LimitReader(zeros{}, tt.size-int64(len(tt.prefix))))
			resp, err := sendWholeThenRead(e.url, head+"\r\n", body)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			var msg map[string]string
			if resp.status != tt.status || json.Unmarshal(resp.body, &msg) != nil || !strings.Contains(msg["error"], tt.says) {
				t.Errorf("answer %d %s, want %d {\"error\"} saying %q", resp.status, resp.body, tt.status, tt.says)
			}
		})
	}
}

// sendWholeThenRead writes head and all of body to the server at baseURL,
// then reads the answer.
func sendWholeThenRead(baseURL, head string, body io.Reader) (response, error) {
	conn, err := net.Dial("tcp", strings.TrimPrefix(baseURL, "http://"))
	if err != nil {
		return response{}, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute)) // a hang guard
	if _, err := io.WriteString(conn, head); err != nil {
		return response{}, fmt.Errorf("write head: %w", err)
	}
	if n, err := io.Copy(conn, body); err != nil {
		return response{}, fmt.Errorf("write body, after %d bytes: %w", n, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return response{}, fmt.Errorf("read answer: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}, err
}
