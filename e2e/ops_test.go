package e2e_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// errorMessage returns the message of an {"error": "..."} body, failing t
// on any other shape.
func errorMessage(t *testing.T, body []byte) string {
	t.Helper()
	var e map[string]any
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	msg, ok := e["error"].(string)
	if !ok || len(e) != 1 || msg == "" {
		t.Fatalf("error body = %s, want {\"error\": \"...\"}", body)
	}
	return msg
}

func TestProbes(t *testing.T) {
	c := newClient(t, "")
	t.Run("healthz", func(t *testing.T) {
		requireDeclared(t, http.MethodGet, "/healthz", http.StatusOK)
		resp, err := c.HealthzWithResponse(t.Context())
		if err != nil || resp.JSON200 == nil || resp.JSON200.Status != "ok" {
			t.Fatalf("healthz: %v, status %d, %s", err, resp.StatusCode(), resp.Body)
		}
	})
	t.Run("readyz", func(t *testing.T) {
		requireDeclared(t, http.MethodGet, "/readyz", http.StatusOK)
		resp, err := c.ReadyzWithResponse(t.Context())
		if err != nil || resp.JSON200 == nil || resp.JSON200.Status != "ok" {
			t.Fatalf("readyz: %v, status %d, %s", err, resp.StatusCode(), resp.Body)
		}
	})
}

// TestServedSpec fetches the spec as a consumer's generator would, without a
// token, and checks it describes the routes this suite exercises.
func TestServedSpec(t *testing.T) {
	c := newClient(t, "")
	load := map[string]func() (int, []byte, error){
		"/openapi.yaml": func() (int, []byte, error) {
			r, err := c.GetOpenAPIYAMLWithResponse(t.Context())
			if err != nil {
				return 0, nil, err
			}
			return r.StatusCode(), r.Body, nil
		},
		"/openapi.json": func() (int, []byte, error) {
			r, err := c.GetOpenAPIJSONWithResponse(t.Context())
			if err != nil {
				return 0, nil, err
			}
			return r.StatusCode(), r.Body, nil
		},
	}
	for path, get := range load {
		t.Run(path, func(t *testing.T) {
			requireDeclared(t, http.MethodGet, path, http.StatusOK)
			status, body, err := get()
			if err != nil || status != http.StatusOK {
				t.Fatalf("GET %s: %v, status %d", path, err, status)
			}
			doc, err := openapi3.NewLoader().LoadFromData(body)
			if err != nil {
				t.Fatalf("load served spec: %v", err)
			}
			if doc.Paths.Find(listPath) == nil || doc.Paths.Find(path) == nil {
				t.Errorf("served spec lacks %s or %s", listPath, path)
			}
		})
	}
}

func TestDocsPage(t *testing.T) {
	requireDeclared(t, http.MethodGet, "/docs", http.StatusOK)
	resp, err := newClient(t, "").GetDocsWithResponse(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != http.StatusOK || !strings.HasPrefix(resp.HTTPResponse.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(resp.Body), "redoc") {
		t.Errorf("GET /docs: status %d, Content-Type %q", resp.StatusCode(), resp.HTTPResponse.Header.Get("Content-Type"))
	}
}
