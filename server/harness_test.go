package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/re-factor/resources/auth"
	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/blobstore/blobtest"
	"github.com/re-factor/resources/catalog"
	"github.com/re-factor/resources/gen"
	"github.com/re-factor/resources/internal/testkit"
	"github.com/re-factor/resources/server"
	"github.com/re-factor/resources/server/spectest"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
	"github.com/re-factor/resources/urlfetch"
)

func TestMain(m *testing.M) { blobtest.Main(m, storetest.Cleanup) }

const testSecret = "server-test-secret-0123456789abcdef"

// env is one running server: the echo instance main builds, on a real
// database, behind real HTTP.
type env struct {
	t     *testing.T
	db    *store.DB
	blobs *blobstore.Store
	url   string
}

// newEnv serves on the engine's database with file:// storage.
func newEnv(t *testing.T, engine string) *env {
	t.Helper()
	return newEnvOn(t, engine, "file", nil)
}

// config is what a test may adjust before its server is built: the HTTP
// layer's Config and the domain's. The domain takes DB and Logger from the
// HTTP layer's.
type config struct {
	*server.Config
	Catalog *catalog.Config // shadows Config.Catalog, which it builds
}

// newEnvWith is newEnv with a say in the server's config, for what is off
// or defaulted unless set (limits, metrics, CORS).
func newEnvWith(t *testing.T, engine string, configure func(config)) *env {
	t.Helper()
	return newEnvOn(t, engine, "file", configure)
}

// newEnvOn serves on the engine's database and the blob kind's storage;
// configure, when not nil, adjusts the Config before the server is built.
func newEnvOn(t *testing.T, engine, blobKind string, configure func(config)) *env {
	t.Helper()
	e := newUnstartedEnv(t, engine, blobKind, configure)
	e.srv.Start()
	e.url = e.srv.URL
	return e.env
}

// unstartedEnv is an env whose server is not listening yet, for tests that
// need a say in its listener.
type unstartedEnv struct {
	*env
	srv *httptest.Server
}

func newUnstartedEnv(t *testing.T, engine, blobKind string, configure func(config)) unstartedEnv {
	t.Helper()
	db, blobs := storetest.Open(t, engine), blobtest.Open(t, blobKind)
	srv := httptest.NewUnstartedServer(newHandler(t, db, blobs, configure))
	t.Cleanup(srv.Close)
	return unstartedEnv{env: &env{t: t, db: db, blobs: blobs}, srv: srv}
}

// serverLogs writes the test servers' logs to stderr. Not tied to -v:
// make test's runner (gotestsum) runs go test -json, which is verbose.
var serverLogs = flag.Bool("server.logs", false, "write the test servers' access and error logs to stderr")

// newHandler builds the server as main does, over db and blobs;
// configure, when not nil, adjusts its configuration first. Every test,
// fuzz target and benchmark of the package builds its server here.
func newHandler(tb testing.TB, db *store.DB, blobs *blobstore.Store, configure func(config)) http.Handler {
	tb.Helper()
	var cfg server.Config
	var rcfg catalog.Config
	v, err := auth.New(context.Background(), auth.Config{Secret: []byte(testSecret)})
	if err != nil {
		tb.Fatalf("auth.New: %v", err)
	}
	tb.Cleanup(func() { v.Close() })
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if *serverLogs {
		logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	cfg.Verifier, cfg.Logger = v, logger
	rcfg.DB, rcfg.Blobs, rcfg.Fetcher = db, blobs, urlfetch.New(urlfetch.Config{AllowPrivate: true})
	if configure != nil {
		configure(config{Config: &cfg, Catalog: &rcfg})
	}
	rcfg.Logger = cfg.Logger
	cfg.Catalog = mustService(tb, rcfg)
	h, err := server.New(cfg)
	if err != nil {
		tb.Fatalf("server.New: %v", err)
	}
	return h
}

func mustService(tb testing.TB, cfg catalog.Config) *catalog.Service {
	tb.Helper()
	svc, err := catalog.New(cfg)
	if err != nil {
		tb.Fatalf("catalog.New: %v", err)
	}
	return svc
}

// forBackends runs f as a subtest on every database engine with every
// storage kind.
func forBackends(t *testing.T, f func(t *testing.T, e *env)) {
	for _, engine := range storetest.Engines {
		for _, kind := range blobtest.Kinds {
			t.Run(engine+"/"+kind, func(t *testing.T) { f(t, newEnvOn(t, engine, kind, nil)) })
		}
	}
}

// forEngine runs f as a subtest on each database engine.
func forEngine(t *testing.T, f func(t *testing.T, e *env)) {
	for _, engine := range storetest.Engines {
		t.Run(engine, func(t *testing.T) { f(t, newEnv(t, engine)) })
	}
}

func mustToken(t testing.TB, account, scope string) string {
	return testkit.Token(t, []byte(testSecret), account, scope)
}

func readToken(t testing.TB, account string) string {
	return mustToken(t, account, "resources:read")
}

// response is what a test looks at, already checked against the specs.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// decodeAs returns r's body as a T, failing the test unless r's status is
// want; what names the request in the failure.
func decodeAs[T any](t testing.TB, r response, want int, what string) T {
	t.Helper()
	if r.status != want {
		t.Fatalf("%s = %d %s, want %d", what, r.status, r.body, want)
	}
	var v T
	r.json(t, &v)
	return v
}

// errorMessage returns the {"error"} message, failing unless the body is
// exactly that shape.
func (r response) errorMessage(t testing.TB) string {
	t.Helper()
	var body map[string]any
	r.json(t, &body)
	msg, ok := body["error"].(string)
	if !ok || len(body) != 1 || msg == "" {
		t.Fatalf("error body = %s, want {\"error\": \"...\"}", r.body)
	}
	return msg
}

// get sends a GET with the bearer token (none when empty) and validates the
// response against openapi.yaml and, where it declares the status, the
// vendor's published file.
func (e *env) get(path, token string) response {
	e.t.Helper()
	return e.do(http.MethodGet, path, token, nil)
}

// getOK is get for an answer that must be 200, decoded into v.
func (e *env) getOK(path, token string, v any) {
	e.t.Helper()
	r := e.get(path, token)
	if r.status != http.StatusOK {
		e.t.Fatalf("GET %s = %d %s, want 200", path, r.status, r.body)
	}
	r.json(e.t, v)
}

func (e *env) do(method, path, token string, header http.Header) response {
	e.t.Helper()
	return e.doBody(method, path, token, header, nil)
}

// send sends body as JSON.
func (e *env) send(method, path, token string, body any) response {
	e.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		e.t.Fatalf("encode body: %v", err)
	}
	return e.doBody(method, path, token, http.Header{"Content-Type": {"application/json"}}, b)
}

func (e *env) doBody(method, path, token string, header http.Header, body []byte) response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatalf("new request %s %s: %v", method, path, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	var r response
	r.status, r.header, r.body = testkit.Send(e.t, req)
	checkCommon(e.t, method+" "+path, r)
	ourSpec.Check(e.t, req, r.status, r.header, r.body)
	publishedSpec.Check(e.t, req, r.status, r.header, r.body)
	return r
}

// checkCommon holds for every response: JSON errors and a request id.
func checkCommon(t testing.TB, what string, r response) {
	t.Helper()
	if r.header.Get("X-Request-Id") == "" {
		t.Errorf("%s: no X-Request-Id header", what)
	}
	if r.status >= 400 {
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: error Content-Type = %q, want JSON", what, ct)
		}
		if r.status != http.StatusGone { // {"error", "oldest_sequence"}, checked against the spec
			r.errorMessage(t)
		}
	}
	for _, leak := range []string{"sql", "pq:", "SQLITE", "goroutine", "Schema:", "panic"} {
		if strings.Contains(string(r.body), leak) && r.status >= 400 {
			t.Errorf("%s: error body leaks %q: %s", what, leak, r.body)
		}
	}
}

// ourSpec is the embedded openapi.yaml; publishedSpec the vendor's file,
// which declares only the list (and not its 400).
var ourSpec, publishedSpec = loadSpecs()

func loadSpecs() (*spectest.Spec, *spectest.Spec) {
	doc, err := gen.GetSpec()
	if err != nil {
		panic(err)
	}
	ours, err := spectest.New("openapi.yaml", doc, true)
	if err != nil {
		panic(err)
	}
	published, err := spectest.Load("published", "testdata/list-resources.published.yaml", false)
	if err != nil {
		panic(err)
	}
	return ours, published
}
