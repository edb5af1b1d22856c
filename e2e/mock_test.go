package e2e_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/re-factor/resources/internal/testkit"
	"github.com/re-factor/resources/server/spectest"
)

// TestPrismMock serves openapi.yaml with `prism mock`, as a front-end team
// does before it has a server: once from the spec's examples and once
// generating data from its schemas (-d). The list, get, create and update
// answers must pass the checks the server's own answers pass, against both
// specs; the examples must also hang together as a page a UI can show.
func TestPrismMock(t *testing.T) {
	if target.prism {
		t.Skip("the mock is checked by the plain e2e run, not by each contract pass")
	}
	const prism = "node_modules/.bin/prism"
	if _, err := os.Stat(prism); err != nil {
		testkit.Unavailable(t, "no Prism in e2e/node_modules (make node-deps installs it): %v", err)
	}
	ours, err := spectest.Load("openapi.yaml", "../openapi.yaml", true)
	if err != nil {
		t.Fatal(err)
	}
	published, err := spectest.Load("published", "../server/testdata/list-resources.published.yaml", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []struct {
		name   string
		args   []string
		rounds int // the dynamic mock answers differently every time
	}{
		{"static", nil, 1},
		{"dynamic", []string{"--dynamic"}, 3},
	} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			base := startPrismMock(t, prism, mode.args...)
			for range mode.rounds {
				for _, c := range mockCalls {
					req := c.request(t, base)
					status, header, body := testkit.Send(t, req)
					if status != c.status {
						t.Fatalf("%s %s: %d %s, want %d", c.method, c.path, status, body, c.status)
					}
					req = c.request(t, base) // the body was read
					ours.Check(t, req, status, header, body)
					published.Check(t, req, status, header, body)
					if mode.name == "static" && c.path == listPath {
						checkPage(t, body)
					}
				}
			}
		})
	}
}

// mockCall is a request a front end makes, and the status it expects.
type mockCall struct {
	method, path, body string
	status             int
}

var mockCalls = []mockCall{
	{http.MethodGet, listPath, "", http.StatusOK},
	{http.MethodGet, listPath + "?tags=finance,quarterly&directory_prefix=/reports&page_size=5&sort=asc", "", http.StatusOK},
	{http.MethodGet, "/v1/resource/75e35926-dd42-5b28-8493-ea7133ef5dcd", "", http.StatusOK},
	{http.MethodPost, listPath, `{"name":"q3-draft.md","directory_path":"/reports/2024/drafts",` +
		`"content":"data:text/markdown;base64,IyBRMwo=","tags":["finance"],"metadata":{"quarter":"Q3"}}`, http.StatusOK},
	{http.MethodPut, "/v1/resource/75e35926-dd42-5b28-8493-ea7133ef5dcd", `{"directory_path":"/archive/2024"}`, http.StatusOK},
}

func (c mockCall) request(t *testing.T, base string) *http.Request {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, base+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer mock")
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// checkPage holds the list example to what the server's pages promise and
// no schema states: no more items than page_size, a total that counts them,
// distinct ids, tags in byte order, newest first.
func checkPage(t *testing.T, body []byte) {
	t.Helper()
	var page struct {
		Items []struct {
			ID        string    `json:"id"`
			Tags      []string  `json:"tags"`
			CreatedAt time.Time `json:"created_at"`
		} `json:"items"`
		Total    int `json:"total"`
		Page     int `json:"page"`
		PageSize int `json:"page_size"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Items) > page.PageSize || page.Total < (page.Page-1)*page.PageSize+len(page.Items) {
		t.Errorf("page %d of %d with %d items, total %d: inconsistent", page.Page, page.PageSize, len(page.Items), page.Total)
	}
	seen := map[string]bool{}
	for i, it := range page.Items {
		if seen[it.ID] {
			t.Errorf("id %s twice", it.ID)
		}
		seen[it.ID] = true
		for j := 1; j < len(it.Tags); j++ {
			if it.Tags[j-1] >= it.Tags[j] {
				t.Errorf("tags %q not sorted", it.Tags)
			}
		}
		if i > 0 && it.CreatedAt.After(page.Items[i-1].CreatedAt) {
			t.Errorf("items not newest first")
		}
	}
}

// startPrismMock serves ../openapi.yaml with `prism mock` on a free port
// until the test ends, and returns its base URL.
func startPrismMock(t *testing.T, prism string, args ...string) string {
	t.Helper()
	addr, err := testkit.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command(prism, append([]string{"mock", "../openapi.yaml", "--host", host, "--port", port}, args...)...)
	var out testkit.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("prism mock %v:\n%s", args, out.String())
		}
	})
	base := "http://" + addr
	// Prism takes seconds to boot; /healthz is in the spec and needs no token.
	if err := testkit.WaitReady(base+"/healthz", 90*time.Second); err != nil {
		t.Fatalf("prism mock: %v\n%s", err, out.String())
	}
	return base
}
