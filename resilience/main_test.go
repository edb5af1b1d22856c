package resilience

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/re-factor/resources/auth"
	"github.com/re-factor/resources/blobstore/blobtest"
)

// binary is the refactor binary TestMain builds for every test to run.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "resilience-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "refactor")
	build := exec.Command("go", "build", "-o", binary, "github.com/re-factor/resources/cmd/refactor")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "resilience: building the binary:", err)
		os.Exit(1)
	}
	code := m.Run()
	stopClusters()
	if err := blobtest.Cleanup(); err != nil && code == 0 {
		fmt.Fprintln(os.Stderr, "resilience:", err)
		code = 1
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

const secret = "resilience-test-secret-0123456789abcdef"

func token(t testing.TB, account string) string {
	t.Helper()
	tok, err := auth.Sign([]byte(secret), auth.Token{Account: account, Subject: "loader",
		Scope: "resources:read resources:write", TTL: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// proc is one running server binary.
type proc struct {
	t    testing.TB
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
	done chan struct{}
}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs `refactor serve` on a free loopback port with env added
// to the basics, and waits until it answers /healthz.
func startServer(t testing.TB, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, "serve")
	cmd.Env = append(os.Environ(), "LISTEN_ADDR=127.0.0.1:0", "JWT_SECRET="+secret)
	cmd.Env = append(cmd.Env, env...)
	p := &proc{t: t, cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("server log (last 4 KB):\n%s", tail(p.logs.String(), 4096))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for p.url == "" {
		if time.Now().After(deadline) {
			t.Fatalf("server did not start:\n%s", p.logs.String())
		}
		select {
		case <-p.done:
			t.Fatalf("server exited at start:\n%s", p.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		p.url = listenURL(p.logs.String())
	}
	return p
}

// listenURL finds the address in the server's "serving" log line.
func listenURL(logs string) string {
	for line := range strings.SplitSeq(logs, "\n") {
		var l struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "serving" && l.Addr != "" {
			return "http://" + l.Addr
		}
	}
	return ""
}

// kill stops the server with SIGKILL: no shutdown, no flush.
func (p *proc) kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// rssKB is the server's resident set size in KiB.
func (p *proc) rssKB() int { return p.status("VmRSS") }

// threads is the number of the server's OS threads.
func (p *proc) threads() int { return p.status("Threads") }

// goroutines is the server's go_goroutines gauge from /metrics, -1 when
// it cannot be read.
func (p *proc) goroutines() int {
	r := do(context.Background(), http.MethodGet, p.url+"/metrics", "", nil)
	for line := range strings.SplitSeq(string(r.body), "\n") {
		if rest, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(rest)); err == nil {
				return n
			}
		}
	}
	return -1
}

// status reads a number from the server's /proc status file, -1 if absent.
func (p *proc) status(field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	return -1
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// result is one answered request.
type result struct {
	status int
	header http.Header
	body   []byte
	took   time.Duration
	err    error
}

var client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func do(ctx context.Context, method, url, tok string, body []byte) result {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return result{err: err}
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return result{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: b, took: time.Since(start), err: err}
}

// isErrorBody reports whether b is exactly {"error": "<non-empty>"}.
func isErrorBody(b []byte) bool {
	var m map[string]any
	if json.Unmarshal(b, &m) != nil || len(m) != 1 {
		return false
	}
	s, ok := m["error"].(string)
	return ok && s != ""
}
