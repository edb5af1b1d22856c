package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServeEphemeralSeed starts `serve --ephemeral --seed` as a consumer's
// CI job would, waits for /readyz and checks that the printed token lists
// exactly the seeded resources of its account.
func TestServeEphemeralSeed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // hang guard
	defer cancel()
	out, banner := io.Pipe()
	done := make(chan error, 1)
	started := time.Now()
	go func() {
		// No DATABASE_URL, BLOB_URL or JWT_SECRET: nothing may touch the disk.
		env := map[string]string{"LISTEN_ADDR": "127.0.0.1:0", "DATABASE_URL": "sqlite:/nonexistent/dir/never.db", "BLOB_URL": "file:///nonexistent/blobs"}
		done <- run(ctx, []string{"serve", "--ephemeral", "--seed", "../../e2e/testdata/seed.jsonl", "--account", "e2e"},
			strings.NewReader(""), banner, io.Discard, func(k string) string { return env[k] })
		banner.Close()
	}()
	base, token := readBanner(t, out)
	go io.Copy(io.Discard, out)
	if r := httpGet(t, base+"/readyz", ""); r.StatusCode != http.StatusOK {
		t.Fatalf("/readyz = %d", r.StatusCode)
	}
	t.Logf("ready %v after start", time.Since(started).Round(time.Millisecond))

	r := httpGet(t, base+"/v1/resources?page_size=100&sort=asc", token)
	var page struct {
		Items []struct {
			ID        string `json:"id"`
			AccountID string `json:"account_id"`
		} `json:"items"`
		Total int `json:"total"`
	}
	if err := json.NewDecoder(r.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if page.Total != 37 || len(page.Items) != 37 {
		t.Fatalf("list = %d items of total %d, want the seed's 37 for account e2e", len(page.Items), page.Total)
	}
	if first := page.Items[0]; first.ID != "4068a098-3431-54ef-a9ce-4f814fd19d92" || first.AccountID != "e2e" {
		t.Errorf("oldest item = %+v, want the seed's first line", first)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// readBanner reads what serve prints until the TOKEN= line and returns the
// API's base URL and the token.
func readBanner(t *testing.T, r io.Reader) (base, token string) {
	t.Helper()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if _, rest, ok := strings.Cut(line, " on http://"); ok && base == "" {
			base = "http://" + strings.Fields(rest)[0]
		}
		if tok, ok := strings.CutPrefix(line, "TOKEN="); ok {
			return base, tok
		}
	}
	t.Fatalf("serve ended without printing a token (base %q): %v", base, sc.Err())
	return "", ""
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
