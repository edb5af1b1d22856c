package server_test

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/re-factor/resources/gen"
	"github.com/re-factor/resources/internal/testkit"
)

func TestDocsPage(t *testing.T) {
	e := newEnv(t, "sqlite")
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/docs", "text/html; charset=utf-8", `<redoc spec-url="openapi.json"`},
		{"/docs/redoc.standalone.js", "text/javascript; charset=utf-8", "Redoc"},
		{"/docs/redoc.standalone.js.LICENSE.txt", "text/plain; charset=utf-8", "MIT"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := e.getRaw(tc.path)
			if r.status != http.StatusOK {
				t.Fatalf("status = %d, want 200", r.status)
			}
			if ct := r.header.Get("Content-Type"); ct != tc.contentType {
				t.Errorf("Content-Type = %q, want %q", ct, tc.contentType)
			}
			if !strings.Contains(string(r.body), tc.contains) {
				t.Errorf("body lacks %q", tc.contains)
			}
		})
	}
}

// TestDocsRenderInChromium loads /docs in headless Chromium and checks that
// Redoc rendered every operation of the spec, which proves the bundled
// script runs and reads /openapi.json without any other host.
func TestDocsRenderInChromium(t *testing.T) {
	browser := findChromium()
	if browser == "" {
		testkit.Unavailable(t, "Chromium is not installed (apt-get install chromium)")
	}
	e := newEnv(t, "sqlite")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-dev-shm-usage", "--no-first-run", "--user-data-dir="+t.TempDir(),
		"--virtual-time-budget=20000", "--dump-dom", e.url+"/docs")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", browser, err)
	}
	dom := string(out)
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if !strings.Contains(dom, op.Summary) {
				t.Errorf("%s %s: summary %q not rendered", method, path, op.Summary)
			}
		}
	}
	// The operation tags put the resources before the service routes.
	if first, probe := strings.Index(dom, "List all resources"), strings.Index(dom, "Liveness probe"); first < 0 || probe < first {
		t.Errorf(`"List all resources" at %d, "Liveness probe" at %d: want the resources first`, first, probe)
	}
	if t.Failed() {
		t.Logf("DOM:\n%.3000s", dom)
	}
}

func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}
