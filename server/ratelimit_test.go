package server_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/re-factor/resources/internal/testkit"
	"github.com/re-factor/resources/server"
	"github.com/re-factor/resources/store"
)

// rawGet sends a GET without checking the response against the specs, for
// statuses openapi.yaml does not declare yet (429).
func (e *env) rawGet(path, token string) response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	var r response
	r.status, r.header, r.body = testkit.Send(e.t, req)
	checkCommon(e.t, "GET "+path, r)
	return r
}

func TestRateLimitPerAccount(t *testing.T) {
	const burst = 3
	e := newEnvWith(t, store.SQLite, func(c config) {
		// A slow refill keeps the test independent of how fast it runs.
		c.RateLimit = server.RateLimit{RPS: 0.01, Burst: burst}
	})
	a, b := readToken(t, "acct-a"), readToken(t, "acct-b")
	for i := range burst {
		if r := e.rawGet("/v1/resources", a); r.status != http.StatusOK {
			t.Fatalf("request %d within the burst = %d %s", i+1, r.status, r.body)
		}
	}
	r := e.rawGet("/v1/resources", a)
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("request past the burst = %d %s, want 429", r.status, r.body)
	}
	if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs < 1 || secs > 100 {
		t.Errorf("Retry-After = %q, want whole seconds until a token is back (1..100)", r.header.Get("Retry-After"))
	}
	var body map[string]string
	if err := json.Unmarshal(r.body, &body); err != nil || body["error"] == "" {
		t.Errorf("429 body = %s, want {\"error\"}", r.body)
	}
	if r := e.rawGet("/v1/resources", b); r.status != http.StatusOK {
		t.Errorf("another account = %d, want 200: buckets are per account", r.status)
	}
	for range 2 * burst {
		if r := e.rawGet("/healthz", ""); r.status != http.StatusOK {
			t.Fatalf("/healthz = %d, want 200: only accounts are limited", r.status)
		}
	}
	if r := e.rawGet("/v1/resources", "not-a-token"); r.status != http.StatusUnauthorized {
		t.Errorf("bad token while limited = %d, want 401 (authentication comes first)", r.status)
	}
}

func TestRateLimitOffByDefault(t *testing.T) {
	e := newEnv(t, store.SQLite)
	tok := readToken(t, "acct")
	for i := range 50 {
		if r := e.rawGet("/v1/resources?page_size=1", tok); r.status != http.StatusOK {
			t.Fatalf("request %d = %d, want 200 with no limit configured", i+1, r.status)
		}
	}
}
