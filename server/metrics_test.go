package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/re-factor/resources/server"
	"github.com/re-factor/resources/store/poolmetrics"
)

func TestMetrics(t *testing.T) {
	e := newEnvWith(t, "sqlite", func(c config) {
		c.Metrics = server.NewMetrics(server.BuildInfo{Version: "v1.2.3", Commit: "abc123"}, poolmetrics.Collector(c.Catalog.DB))
		c.ServeMetrics = true
	})
	tok := readToken(t, "acme")
	e.get("/v1/resources", tok)
	e.get("/v1/resources?page=2", tok)
	e.get("/v1/resources", "")
	e.get("/no/such/path", "")

	r := e.getRaw("/metrics")
	if r.status != http.StatusOK {
		t.Fatalf("GET /metrics = %d: %s", r.status, r.body)
	}
	body := string(r.body)
	for _, want := range []string{
		`refactor_http_requests_total{method="GET",route="/v1/resources",status="200"} 2`,
		`refactor_http_requests_total{method="GET",route="/v1/resources",status="401"} 1`,
		`refactor_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`refactor_http_request_duration_seconds_count{method="GET",route="/v1/resources"} 3`,
		`refactor_http_request_duration_seconds_bucket{method="GET",route="/v1/resources",le="0.005"}`,
		`refactor_db_open_connections{pool="read"}`,
		`refactor_db_max_open_connections{pool="write"} 1`,
		`refactor_build_info{commit="abc123",version="v1.2.3"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "/no/such/path") {
		t.Error("a raw unmatched path became a label value")
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", body)
	}
}

// TestMetricsNotOnAPIUnlessAsked keeps /metrics off the API listener when
// main serves it on METRICS_ADDR.
func TestMetricsNotOnAPIUnlessAsked(t *testing.T) {
	e := newEnvWith(t, "sqlite", func(c config) {
		c.Metrics = server.NewMetrics(server.BuildInfo{}, poolmetrics.Collector(c.Catalog.DB))
	})
	if r := e.getRaw("/metrics"); r.status != http.StatusNotFound {
		t.Errorf("GET /metrics = %d, want 404", r.status)
	}
}
