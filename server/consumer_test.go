package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/re-factor/resources/auth"
	"github.com/re-factor/resources/server"
	"github.com/re-factor/resources/store/storetest"
)

// newEnvWith is newEnv with a say in the server's Config, for the features
// that are off by default (metrics, CORS).
func newEnvWith(t *testing.T, engine string, configure func(*server.Config)) *env {
	t.Helper()
	db := storetest.Open(t, engine)
	v, err := auth.New(context.Background(), auth.Config{Secret: []byte(testSecret)})
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	cfg := server.Config{DB: db, Verifier: v, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	configure(&cfg)
	h, err := server.New(cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, db: db, url: srv.URL}
}

// getRaw is get for what the spec cannot check: routes outside it (metrics,
// the reference page's assets) and bodies that are not JSON.
func (e *env) getRaw(path string) response {
	e.t.Helper()
	return e.raw(http.MethodGet, path, nil)
}

// options sends a CORS preflight, which no spec declares.
func (e *env) options(path string, header http.Header) response {
	e.t.Helper()
	return e.raw(http.MethodOptions, path, header)
}

func (e *env) raw(method, path string, header http.Header) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, nil)
	if err != nil {
		e.t.Fatalf("new request %s %s: %v", method, path, err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read body of %s %s: %v", method, path, err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: body}
	checkCommon(e.t, method+" "+path, r)
	return r
}
