package resilience

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHTTPLimits checks the limits the binary's http.Server sets, which the
// in-process tests cannot see: oversized headers and URLs, a client that
// trickles its headers (slowloris), and no version banner anywhere.
func TestHTTPLimits(t *testing.T) {
	srv := startServer(t, "DATABASE_URL=sqlite:"+filepath.Join(t.TempDir(), "db"), "BLOB_URL=file://"+t.TempDir())
	tok := token(t, "acct")
	ctx := context.Background()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/resources", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Padding", strings.Repeat("a", 100<<10))
	if resp, err := client.Do(req); err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 KiB header: %v %v, want 431", status(resp), err)
	}
	long := do(ctx, http.MethodGet, srv.URL+"/v1/resources?directory_prefix=/"+strings.Repeat("a", 100<<10), tok, nil)
	if long.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 KiB URL = %d, want 431", long.status)
	}
	big := do(ctx, http.MethodGet, srv.URL+"/v1/resources", tok+strings.Repeat("A", 9<<10), nil)
	if big.status != http.StatusUnauthorized || !strings.Contains(string(big.body), "8 KiB") {
		t.Errorf("9 KiB token = %d %s, want 401 for its size", big.status, big.body)
	}
	for _, path := range []string{"/healthz", "/v1/resources", "/nope"} {
		r := do(ctx, http.MethodGet, srv.URL+path, tok, nil)
		if v := r.header.Get("Server"); v != "" {
			t.Errorf("GET %s: Server: %q", path, v)
		}
	}
	checkSlowloris(t, srv.URL)
}

// checkSlowloris sends a request line and then one header byte a second:
// the server must hang up once ReadHeaderTimeout (10 s) has passed.
func checkSlowloris(t *testing.T, base string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
	closed := make(chan time.Duration, 1)
	go func() {
		bufio.NewReader(conn).ReadString(0) // returns when the server closes
		closed <- time.Since(start)
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case took := <-closed:
			if took < 5*time.Second || took > 15*time.Second {
				t.Errorf("slow headers: server hung up after %v, want about 10 s", took)
			}
			return
		case <-tick.C:
			if time.Since(start) > 20*time.Second {
				t.Fatal("slow headers: still connected after 20 s")
			}
			conn.Write([]byte("X"))
		}
	}
}

func status(resp *http.Response) any {
	if resp == nil {
		return nil
	}
	resp.Body.Close()
	return resp.StatusCode
}
