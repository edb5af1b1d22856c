package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/re-factor/resources/internal/testkit"
)

// TestServeEphemeralSeed starts `serve --ephemeral --seed` as a consumer's
// CI job would, waits for /readyz and checks that the printed token lists
// exactly the seeded resources of its account.
func TestServeEphemeralSeed(t *testing.T) {
	const seedFile = "../../e2e/testdata/seed.jsonl"
	seed, err := os.ReadFile(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := startEphemeral(t, "--seed", seedFile, "--account", "e2e")
	if want := fmt.Sprintf("%d resources seeded from %s", bytes.Count(seed, []byte("\n")), seedFile); !strings.Contains(srv.headline, want) {
		t.Errorf("banner %q, want it to say %q", srv.headline, want)
	}
	page := srv.list(t)
	if page.Total != 37 || len(page.Items) != 37 {
		t.Fatalf("list = %d items of total %d, want the seed's 37 for account e2e", len(page.Items), page.Total)
	}
	if first := page.Items[0]; first.ID != "4068a098-3431-54ef-a9ce-4f814fd19d92" || first.AccountID != "e2e" {
		t.Errorf("oldest item = %+v, want the seed's first line", first)
	}
	srv.stop(t)
}

// TestServeEphemeralDev starts `serve --ephemeral --dev`: the banner and the
// log count the demo data as loaded, per account, and every demo resource
// of the token's account downloads as bytes of its sha256 and size.
func TestServeEphemeralDev(t *testing.T) {
	srv := startEphemeral(t, "--dev")
	lines := bytes.Count(demoTemplate, []byte("\n"))
	if want := fmt.Sprintf("%d resources seeded from the demo data", lines); !strings.Contains(srv.headline, want) {
		t.Errorf("banner %q, want it to say %q", srv.headline, want)
	}
	page := srv.list(t)
	demo := strings.Count(string(demoTemplate), `"account_id":"demo"`)
	if page.Total != demo || len(page.Items) != demo {
		t.Fatalf("list = %d items of total %d, want the demo account's %d", len(page.Items), page.Total, demo)
	}
	want := fmt.Sprintf(`"msg":"loaded demo data","resources":%d,"by_account":{"acme":%d,"demo":%d}`, lines, lines-demo, demo)
	if !strings.Contains(srv.logs.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, srv.logs.String())
	}
	for _, item := range page.Items {
		r := httpGet(t, srv.base+"/v1/resource/"+item.ID+"/content", srv.token)
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		sum := sha256.Sum256(b)
		if err != nil || r.StatusCode != http.StatusOK || hex.EncodeToString(sum[:]) != item.SHA256 || int64(len(b)) != item.SizeBytes {
			t.Errorf("%s: %d, %d bytes (%v), want sha256 %s, %d bytes", item.ID, r.StatusCode, len(b), err, item.SHA256, item.SizeBytes)
		}
	}
	srv.stop(t)
}

// ephemeralServer is `refactor serve --ephemeral` running in-process.
type ephemeralServer struct {
	base, token, headline string
	logs                  testkit.SyncBuffer
	cancel                context.CancelFunc
	done                  chan error
}

// startEphemeral runs `serve --ephemeral` with args, reads its banner and
// waits for /readyz.
func startEphemeral(t *testing.T, args ...string) *ephemeralServer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // hang guard
	t.Cleanup(cancel)
	srv := &ephemeralServer{cancel: cancel, done: make(chan error, 1)}
	out, banner := io.Pipe()
	started := time.Now()
	go func() {
		// No DATABASE_URL, BLOB_URL or JWT_SECRET: nothing may touch the disk.
		env := map[string]string{"LISTEN_ADDR": "127.0.0.1:0", "DATABASE_URL": "sqlite:/nonexistent/dir/never.db", "BLOB_URL": "file:///nonexistent/blobs"}
		srv.done <- run(ctx, append([]string{"serve", "--ephemeral"}, args...),
			strings.NewReader(""), banner, &srv.logs, func(k string) string { return env[k] })
		banner.Close()
	}()
	srv.base, srv.token, srv.headline = readBanner(t, out)
	go io.Copy(io.Discard, out)
	if r := httpGet(t, srv.base+"/readyz", ""); r.StatusCode != http.StatusOK {
		t.Fatalf("/readyz = %d", r.StatusCode)
	}
	t.Logf("ready %v after start", time.Since(started).Round(time.Millisecond))
	return srv
}

// list is the first 100 resources the printed token sees, oldest first.
func (s *ephemeralServer) list(t *testing.T) (page struct {
	Items []struct {
		ID        string `json:"id"`
		AccountID string `json:"account_id"`
		SHA256    string `json:"sha256"`
		SizeBytes int64  `json:"size_bytes"`
	} `json:"items"`
	Total int `json:"total"`
}) {
	t.Helper()
	r := httpGet(t, s.base+"/v1/resources?page_size=100&sort=asc", s.token)
	defer r.Body.Close()
	if err := json.NewDecoder(r.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	return page
}

// stop ends the server as SIGINT would and checks that it exits cleanly.
func (s *ephemeralServer) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	if err := <-s.done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// readBanner reads what serve prints until the TOKEN= line and returns the
// API's base URL, the token and the line that says what is serving.
func readBanner(t *testing.T, r io.Reader) (base, token, headline string) {
	t.Helper()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if _, rest, ok := strings.Cut(line, " on http://"); ok && base == "" {
			base, headline = "http://"+strings.Fields(rest)[0], line
		}
		if tok, ok := strings.CutPrefix(line, "TOKEN="); ok {
			return base, tok, headline
		}
	}
	t.Fatalf("serve ended without printing a token (base %q): %v", base, sc.Err())
	return "", "", ""
}

func httpGet(t *testing.T, url, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
