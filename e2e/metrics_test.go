package e2e_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/re-factor/resources/internal/testkit"
)

// TestMetricsOnTheirOwnAddress checks the binary's METRICS_ADDR wiring:
// /metrics answers there, counts the traffic of the API, and is absent from
// the API's address.
func TestMetricsOnTheirOwnAddress(t *testing.T) {
	if target.metricsURL == "" {
		t.Skip("the server under test was not started by this suite")
	}
	c := newClient(t, mustToken(t, account, "resources:read"))
	if _, err := c.ListResourcesWithResponse(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	body := getBody(t, target.metricsURL, http.StatusOK)
	for _, want := range []string{
		`refactor_http_requests_total{method="GET",route="/v1/resources",status="200"}`,
		`refactor_http_request_duration_seconds_bucket{method="GET",route="/v1/resources",le="0.1"}`,
		`refactor_db_open_connections{pool="read"}`,
		`refactor_build_info{commit="`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	getBody(t, target.baseURL+"/metrics", http.StatusNotFound)
}

func getBody(t *testing.T, url string, status int) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _, body := testkit.Send(t, req)
	if got != status {
		t.Fatalf("GET %s = %d, want %d", url, got, status)
	}
	return string(body)
}
