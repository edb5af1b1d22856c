package server_test

import (
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/re-factor/resources/server"
	"github.com/re-factor/resources/store/poolmetrics"
)

// TestHeadAnswersEveryGet sends HEAD and GET to every GET route the server
// registers: HEAD must answer with GET's status and headers and no body,
// refusals included (a HEAD is authenticated and validated as its GET is).
func TestHeadAnswersEveryGet(t *testing.T) {
	u := newUnstartedEnv(t, "sqlite", "file", func(c config) {
		c.Metrics = server.NewMetrics(server.BuildInfo{}, poolmetrics.Collector(c.Catalog.DB))
		c.ServeMetrics = true
	})
	u.srv.Start()
	e := u.env
	e.url = u.srv.URL
	tok := rwToken(t, "acct")
	content := []byte(strings.Repeat("HEAD answers as GET does. ", 200))
	id := e.mustCreate(tok, map[string]any{"name": "n.txt", "directory_path": "/", "content": dataURL("text/plain", content)})["id"].(string)
	const missing = "00000000-0000-4000-8000-000000000000"
	link := e.path(e.share(tok, id, map[string]any{}))
	upload := e.mustCreateUpload(tok, 10, tusMeta("name", "u", "directory_path", "/"))

	cases := []struct {
		route, path string
		header      http.Header
		status      int
	}{
		{"/v1/resources", "/v1/resources", bearer(tok), http.StatusOK},
		{"/v1/resources", "/v1/resources", nil, http.StatusUnauthorized},
		{"/v1/resources", "/v1/resources?page_size=1000", bearer(tok), http.StatusBadRequest},
		{"/v1/resource/:id", "/v1/resource/" + id, bearer(tok), http.StatusOK},
		{"/v1/resource/:id", "/v1/resource/" + missing, bearer(tok), http.StatusNotFound},
		{"/v1/resource/:id/content", "/v1/resource/" + id + "/content", bearer(tok), http.StatusOK},
		{"/v1/resource/:id/content", "/v1/resource/" + id + "/content", with(bearer(tok), "Range", "bytes=10-19"), http.StatusPartialContent},
		{"/v1/resource/:id/links", "/v1/resource/" + id + "/links", bearer(tok), http.StatusOK},
		{"/v1/links/:token", link, nil, http.StatusOK},
		{"/v1/links/:token", link, http.Header{"Range": {"bytes=10-19"}}, http.StatusPartialContent},
		{"/v1/links/:token", "/v1/links/rfd_" + strings.Repeat("A", 43), nil, http.StatusNotFound},
		{"/v1/upload-links", "/v1/upload-links", bearer(tok), http.StatusOK},
		{"/v1/uploads/:id", upload, bearer(tok), http.StatusOK},
		{"/v1/uploads/:id", "/v1/uploads/" + missing, bearer(tok), http.StatusNotFound},
		{"/v1/events", "/v1/events", bearer(tok), http.StatusOK},
		// A stream that goes on has no end to compare: a refused one.
		{"/v1/events/stream", "/v1/events/stream?types=resource.moved", bearer(tok), http.StatusBadRequest},
		// Built without a webhooks service: the routes answer 503.
		{"/v1/webhooks", "/v1/webhooks", bearer(tok), http.StatusServiceUnavailable},
		{"/v1/webhooks/:webhook_id", "/v1/webhooks/" + missing, bearer(tok), http.StatusServiceUnavailable},
		{"/v1/webhooks/:webhook_id/deliveries", "/v1/webhooks/" + missing + "/deliveries", bearer(tok), http.StatusServiceUnavailable},
		{"/healthz", "/healthz", nil, http.StatusOK},
		{"/readyz", "/readyz", nil, http.StatusOK},
		{"/openapi.yaml", "/openapi.yaml", nil, http.StatusOK},
		{"/openapi.json", "/openapi.json", nil, http.StatusOK},
		{"/docs", "/docs", nil, http.StatusOK},
		{"/docs/redoc.standalone.js", "/docs/redoc.standalone.js", nil, http.StatusOK},
		{"/docs/redoc.standalone.js.LICENSE.txt", "/docs/redoc.standalone.js.LICENSE.txt", nil, http.StatusOK},
		{"/console", "/console", nil, http.StatusMovedPermanently},
		{"/console/", "/console/", nil, http.StatusOK},
		{"/console/app.js", "/console/app.js", nil, http.StatusOK},
		{"/console/app.css", "/console/app.css", nil, http.StatusOK},
		{"/metrics", "/metrics", nil, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			get := roundTrip(t, http.MethodGet, e.url+tc.path, tc.header)
			head := roundTrip(t, http.MethodHead, e.url+tc.path, tc.header)
			if get.status != tc.status || head.status != tc.status {
				t.Fatalf("GET %d, HEAD %d, want %d", get.status, head.status, tc.status)
			}
			if len(get.body) == 0 && tc.status != http.StatusMovedPermanently {
				t.Errorf("GET has no body to leave out")
			}
			if len(head.body) != 0 {
				t.Errorf("HEAD has a body of %d bytes", len(head.body))
			}
			if tc.route == "/v1/uploads/:id" {
				// The tus offset request: its headers are the protocol's
				// (uploads_test.go), GET's the JSON of the same facts.
				return
			}
			want, got := lasting(get.header), lasting(head.header)
			// net/http cannot tell a HEAD's empty body from one not
			// written, so it sends no Content-Length: 0 (RFC 9110 lets a
			// HEAD leave out what only the content determines).
			if want.Get("Content-Length") == "0" && got.Get("Content-Length") == "" {
				want.Del("Content-Length")
			}
			if !maps.EqualFunc(want, got, slices.Equal) {
				t.Errorf("HEAD headers\n%v\nwant GET's\n%v", got, want)
			}
		})
	}

	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.route] = true
	}
	for _, r := range u.srv.Config.Handler.(*echo.Echo).Routes() {
		if r.Method == http.MethodGet && !covered[r.Path] {
			t.Errorf("GET %s has no case here", r.Path)
		}
	}
	// Metrics count a HEAD as the HEAD it came as.
	if r := e.getRaw("/metrics"); !strings.Contains(string(r.body), `refactor_http_requests_total{method="HEAD",route="/healthz",status="200"} 1`) {
		t.Errorf("metrics lack HEAD /healthz:\n%s", r.body)
	}
}

// roundTrip sends a request with no body and follows no redirect. It asks
// for no content coding, which a Go client asks for on GET only.
func roundTrip(t *testing.T, method, url string, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the body: %v", method, url, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// lasting is a response's header fields but those that differ between any
// two responses (Date, X-Request-Id).
func lasting(h http.Header) http.Header {
	h = h.Clone()
	h.Del("Date")
	h.Del(echo.HeaderXRequestID)
	return h
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

func with(h http.Header, key, value string) http.Header {
	h = h.Clone()
	h.Set(key, value)
	return h
}
