package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/re-factor/resources/internal/testkit"
)

// TestGracefulShutdown sends the real binary SIGTERM while an upload is on
// its way, and checks the shutdown a load balancer needs: /readyz answers
// 503 at once; new connections are served during SHUTDOWN_GRACE and refused
// after it; the upload, still arriving after the grace, completes and is
// stored; and the process exits 0 well within SHUTDOWN_TIMEOUT.
func TestGracefulShutdown(t *testing.T) {
	const grace, timeout = 2 * time.Second, 20 * time.Second
	dir := t.TempDir()
	bin, err := testkit.BuildRefactor(dir)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "shutdown-test-secret-0123456789abcdef"
	dbURL := "sqlite:" + filepath.Join(dir, "refactor.db")
	srv, err := testkit.StartServer(bin, "DATABASE_URL="+dbURL, "BLOB_URL=file://"+filepath.Join(dir, "blobs"),
		"JWT_SECRET="+secret, "SHUTDOWN_GRACE="+grace.String(), "SHUTDOWN_TIMEOUT="+timeout.String())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Kill()
	addr := strings.TrimPrefix(srv.URL, "http://")
	upload := startSlowUpload(t, srv.URL, testkit.Token(t, []byte(secret), "acme", "resources:read resources:write"))

	if err := srv.Terminate(); err != nil {
		t.Fatal(err)
	}
	signalled := time.Now()
	if status, body := getFresh(t, srv.URL+"/readyz"); status != http.StatusServiceUnavailable || !strings.Contains(body, "shutting down") {
		// Signal delivery takes a moment: look again once.
		time.Sleep(100 * time.Millisecond)
		if status, body = getFresh(t, srv.URL+"/readyz"); status != http.StatusServiceUnavailable || !strings.Contains(body, "shutting down") {
			t.Errorf("/readyz after SIGTERM: %d %s, want 503 shutting down", status, body)
		}
	}
	if status, _ := getFresh(t, srv.URL+"/healthz"); status != http.StatusOK {
		t.Errorf("a new connection during the grace: /healthz %d, want 200", status)
	}
	if d := time.Since(signalled); d >= grace {
		t.Fatalf("the checks within the grace took %v, longer than the grace %v", d, grace)
	}

	refusedAt := waitRefused(t, addr, grace+5*time.Second)
	if d := refusedAt.Sub(signalled); d < grace {
		t.Errorf("new connections refused %v after SIGTERM, before the %v grace", d, grace)
	}
	res := upload.finish(t)
	if err := srv.Wait(timeout); err != nil {
		t.Fatalf("exit: %v\n%s", err, srv.Logs())
	}
	if d := time.Since(signalled); d > timeout {
		t.Errorf("exited %v after SIGTERM, want within SHUTDOWN_TIMEOUT %v", d, timeout)
	}

	c := &cli{t: t, env: map[string]string{"DATABASE_URL": dbURL}}
	if exported := c.mustRun("", "export", "--account", "acme"); !strings.Contains(exported, res.ID) {
		t.Errorf("the upload answered during shutdown (%s) is not stored:\n%s", res.ID, exported)
	}
}

// slowUpload is a create whose content arrives over several seconds.
type slowUpload struct {
	w      *io.PipeWriter
	answer chan uploadAnswer
}

type uploadAnswer struct {
	status int
	body   []byte
	err    error
}

// uploadChunks of uploadChunk bytes each are the upload's content; the
// first goes at once, the rest in finish.
const uploadChunks, uploadChunk = 16, 192 << 10

// startSlowUpload sends the head of a create and the first chunk of its
// content, and leaves the request open.
func startSlowUpload(t *testing.T, base, token string) *slowUpload {
	t.Helper()
	r, w := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, base+"/v1/resources", r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	u := &slowUpload{w: w, answer: make(chan uploadAnswer, 1)}
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			u.answer <- uploadAnswer{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		u.answer <- uploadAnswer{status: resp.StatusCode, body: body, err: err}
	}()
	u.write(t, `{"name": "big.bin", "directory_path": "/", "content": "data:application/octet-stream;base64,`)
	u.write(t, chunk(0))
	return u
}

// chunk is the base64 of the nth chunk of content: whole 3-byte groups, so
// that the chunks join into one base64 text.
func chunk(n int) string {
	b := make([]byte, uploadChunk)
	for i := range b {
		b[i] = byte(n + i)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func (u *slowUpload) write(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(u.w, s); err != nil {
		t.Fatalf("upload: %v", err)
	}
}

// finish sends the rest of the content, a chunk every 50 ms, and returns
// the created resource.
func (u *slowUpload) finish(t *testing.T) (r struct {
	ID        string `json:"id"`
	SizeBytes int64  `json:"size_bytes"`
}) {
	t.Helper()
	for n := 1; n < uploadChunks; n++ {
		time.Sleep(50 * time.Millisecond)
		u.write(t, chunk(n))
	}
	u.write(t, `"}`)
	u.w.Close()
	a := <-u.answer
	if a.err != nil || a.status != http.StatusOK {
		t.Fatalf("upload in flight at SIGTERM: %d %s %v, want 200", a.status, a.body, a.err)
	}
	if err := json.Unmarshal(a.body, &r); err != nil {
		t.Fatal(err)
	}
	if r.SizeBytes != uploadChunks*uploadChunk {
		t.Errorf("stored %d bytes, want %d", r.SizeBytes, uploadChunks*uploadChunk)
	}
	return r
}

// getFresh GETs url on a connection of its own.
func getFresh(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitRefused dials addr until a connection is refused, and returns when.
// A dial that races the listener's close is reset instead of refused: the
// kernel drops a handshake queued on the closing socket. That is the same
// moment, so it counts as refused.
func waitRefused(t *testing.T, addr string, limit time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
			return time.Now()
		}
		if err == nil {
			c.Close()
		} else {
			t.Fatalf("dial %s: %v, want it accepted or refused", addr, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still accepts connections %v after SIGTERM", addr, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
