package server_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestCORS(t *testing.T) {
	const allowed = "https://app.example"
	on := newEnvWith(t, "sqlite", func(c config) { c.CORSAllowedOrigins = []string{allowed} })
	off := newEnv(t, "sqlite")
	preflight := func(origin string) http.Header {
		return http.Header{
			"Origin":                         {origin},
			"Access-Control-Request-Method":  {"GET"},
			"Access-Control-Request-Headers": {"authorization"},
		}
	}
	tok := readToken(t, "acme")
	tests := []struct {
		name         string
		e            *env
		method       string
		token        string
		header       http.Header
		wantStatus   int
		wantHeaders  map[string]string // header → substring it must contain
		absentHeader string
	}{
		{"preflight from an allowed origin", on, http.MethodOptions, "", preflight(allowed), http.StatusNoContent,
			map[string]string{"Access-Control-Allow-Origin": allowed, "Access-Control-Allow-Headers": "Authorization",
				"Access-Control-Allow-Methods": "GET", "Access-Control-Max-Age": "600"}, ""},
		{"preflight from another origin", on, http.MethodOptions, "", preflight("https://evil.example"), http.StatusNoContent,
			nil, "Access-Control-Allow-Origin"},
		{"request from an allowed origin", on, http.MethodGet, tok, http.Header{"Origin": {allowed}}, http.StatusOK,
			map[string]string{"Access-Control-Allow-Origin": allowed, "Access-Control-Expose-Headers": "X-Request-Id"}, ""},
		{"401 from an allowed origin stays readable", on, http.MethodGet, "", http.Header{"Origin": {allowed}}, http.StatusUnauthorized,
			map[string]string{"Access-Control-Allow-Origin": allowed, "Access-Control-Expose-Headers": "WWW-Authenticate"}, ""},
		{"off by default", off, http.MethodGet, tok, http.Header{"Origin": {allowed}}, http.StatusOK,
			nil, "Access-Control-Allow-Origin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.e.t = t
			var r response
			if tc.method == http.MethodOptions {
				r = tc.e.options("/v1/resources", tc.header)
			} else {
				r = tc.e.do(tc.method, "/v1/resources", tc.token, tc.header)
			}
			if r.status != tc.wantStatus {
				t.Fatalf("status = %d, want %d: %s", r.status, tc.wantStatus, r.body)
			}
			for h, want := range tc.wantHeaders {
				if got := r.header.Get(h); !strings.Contains(got, want) {
					t.Errorf("%s = %q, want it to contain %q", h, got, want)
				}
			}
			if tc.absentHeader != "" && r.header.Get(tc.absentHeader) != "" {
				t.Errorf("%s = %q, want none", tc.absentHeader, r.header.Get(tc.absentHeader))
			}
		})
	}
}
