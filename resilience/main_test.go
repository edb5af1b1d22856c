package resilience

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/re-factor/resources/blobstore/blobtest"
	"github.com/re-factor/resources/internal/testkit"
)

// binary is the refactor binary TestMain builds for every test to run.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "resilience-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if binary, err = testkit.BuildRefactor(dir); err != nil {
		fmt.Fprintln(os.Stderr, "resilience:", err)
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
	return testkit.Token(t, []byte(secret), account, "resources:read resources:write")
}

// proc is one running server binary.
type proc struct {
	*testkit.Server
}

// startServer runs `refactor serve` with env added to the basics and waits
// until it is ready; the test's end kills it.
func startServer(t testing.TB, env ...string) *proc {
	t.Helper()
	srv, err := testkit.StartServer(binary, append([]string{"JWT_SECRET=" + secret}, env...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Kill()
		if t.Failed() {
			t.Logf("server log (last 4 KB):\n%s", tail(srv.Logs(), 4096))
		}
	})
	return &proc{srv}
}

// usage is what TestSoak watches of a server.
type usage struct {
	rssKB, threads, goroutines int
}

// measure reads the server's resident set size and OS threads from its
// /proc status file and its go_goroutines gauge from /metrics.
func (p *proc) measure() (usage, error) {
	var u usage
	var err error
	if u.rssKB, err = p.status("VmRSS"); err != nil {
		return u, err
	}
	if u.threads, err = p.status("Threads"); err != nil {
		return u, err
	}
	u.goroutines, err = p.goroutines()
	return u, err
}

// goroutines is the server's go_goroutines gauge from /metrics.
func (p *proc) goroutines() (int, error) {
	r := do(context.Background(), http.MethodGet, p.URL+"/metrics", "", nil)
	for line := range strings.SplitSeq(string(r.body), "\n") {
		if rest, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			return strconv.Atoi(strings.TrimSpace(rest))
		}
	}
	return 0, fmt.Errorf("no go_goroutines in GET /metrics (status %d, error %v)", r.status, r.err)
}

// status reads a number from the server's /proc status file.
func (p *proc) status(field string) (int, error) {
	path := fmt.Sprintf("/proc/%d/status", p.Pid())
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return 0, fmt.Errorf("%s has no %s line", path, field)
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

// client closes a connection it has left idle for 5 s, before HAProxy
// closes it after its 10 s (deploy/haproxy.cfg: timeout http-keep-alive):
// a POST sent on a connection the proxy is closing at that instant fails
// with EOF, and a client cannot know whether it was applied, so it cannot
// send it again.
var client = &http.Client{Timeout: 30 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 5 * time.Second}}

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
