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

// rssKB is the server's resident set size in KiB.
func (p *proc) rssKB() int { return p.status("VmRSS") }

// threads is the number of the server's OS threads.
func (p *proc) threads() int { return p.status("Threads") }

// goroutines is the server's go_goroutines gauge from /metrics, -1 when
// it cannot be read.
func (p *proc) goroutines() int {
	r := do(context.Background(), http.MethodGet, p.URL+"/metrics", "", nil)
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
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
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
