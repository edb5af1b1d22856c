package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/re-factor/resources/internal/testkit"
)

// TestConsoleServed checks the console's page and assets: no token needed,
// a CSP allowing this origin only, and the server's content limit written
// into the page. The browser suite (console/test) drives the app itself.
func TestConsoleServed(t *testing.T) {
	e := newEnvWith(t, "sqlite", func(c config) { c.Catalog.MaxContentBytes = 12345 })
	for _, tc := range []struct {
		path, contentType, contains string
		status                      int
	}{
		{"/console", "", "", http.StatusMovedPermanently},
		{"/console/", "text/html; charset=utf-8", `<meta name="max-content-bytes" content="12345">`, http.StatusOK},
		{"/console/app.js", "text/javascript; charset=utf-8", "/v1/resources", http.StatusOK},
		{"/console/app.css", "text/css; charset=utf-8", ".chip", http.StatusOK},
		{"/console/missing.js", "application/json", `"error"`, http.StatusNotFound},
	} {
		t.Run(tc.path, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, e.url+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			status, header, b := testkit.Send(t, req)
			body := string(b)
			if status != tc.status {
				t.Fatalf("status %d, want %d", status, tc.status)
			}
			if tc.status == http.StatusMovedPermanently {
				if loc := header.Get("Location"); loc != "/console/" {
					t.Errorf("Location %q, want /console/", loc)
				}
				return
			}
			if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
				t.Errorf("Content-Type %q, want %q", ct, tc.contentType)
			}
			if !strings.Contains(body, tc.contains) {
				t.Errorf("body lacks %q", tc.contains)
			}
			if tc.status == http.StatusOK {
				if csp := header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
					t.Errorf("Content-Security-Policy %q", csp)
				}
			}
		})
	}
}
