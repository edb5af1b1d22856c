package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/re-factor/resources/internal/testkit"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

// fast bounds a hostile but well-formed query: a guard against work that
// grows with the input (which would take minutes), not a speed target —
// those belong to make bench. It leaves room for a loaded 2-core machine
// with the race detector on (10,000 tags took 5 s under load).
const fast = 15 * time.Second

// TestHostileQueries sends queries built to cost: each must answer within
// fast with 400 or a 200 page, never a 500.
func TestHostileQueries(t *testing.T) {
	tenThousandTags := make([]string, 10_000)
	for i := range tenThousandTags {
		tenThousandTags[i] = "t" + strconv.Itoa(i)
	}
	// A 200 must be an empty page unless some says the one resource may match.
	queries := []struct {
		name, query string
		some        bool
	}{
		{"10,000 tags", "tags=" + strings.Join(tenThousandTags, ","), false},
		{"10,000 empty tags", "tags=" + strings.Repeat(",", 10_000), true},
		{"100 KB directory_prefix", "directory_prefix=/" + strings.Repeat("a", 100_000), false},
		{"100 KB of wildcards", "directory_prefix=" + url.QueryEscape(strings.Repeat("%_\\*", 25_000)), false},
		{"largest page", "page=9223372036854775807", false},
		{"largest page, largest size", "page=9223372036854775807&page_size=100", false},
		{"page past int64", "page=9223372036854775808", false},
		{"page with 1,000 digits", "page=" + strings.Repeat("9", 1000), false},
		{"negative page", "page=-9223372036854775808", false},
		{"1,000 repeated parameters", strings.Repeat("page=1&", 1000), true},
		{"10,000 unknown parameters", strings.Repeat("x=1&", 10_000), true},
		{"created_after of 100 KB", "created_after=" + strings.Repeat("9", 100_000), false},
		{"far-future dates", "created_after=9999-12-31T23:59:59Z&created_before=0001-01-01T00:00:00Z", false},
	}
	forEngine(t, func(t *testing.T, e *env) {
		storetest.MustImport(t, e.db, storetest.NewResource("acct", 1, storetest.Tagged("t1", "t2")))
		tok := readToken(t, "acct")
		for _, q := range queries {
			start := time.Now()
			r := e.get("/v1/resources?"+q.query, tok)
			took := time.Since(start)
			if r.status != http.StatusOK && r.status != http.StatusBadRequest {
				t.Errorf("%s: %d %.300s, want 200 or 400", q.name, r.status, r.body)
			}
			if took > fast {
				t.Errorf("%s took %v, want under %v", q.name, took, fast)
			}
			if r.status == http.StatusOK && !q.some && !bytes.Contains(r.body, []byte(`"items":[]`)) {
				t.Errorf("%s: 200 with items %.300s, want an empty page", q.name, r.body)
			}
		}
	})
}

// TestBodyLimits refuses oversized bodies on every write route with 413,
// whether the size is declared up front or only found while reading.
func TestBodyLimits(t *testing.T) {
	e := newEnvWith(t, store.SQLite, func(c config) { c.Catalog.MaxContentBytes = 1 << 10 })
	tok := rwToken(t, "acct")
	res := e.mustCreate(tok, map[string]any{"name": "a.txt", "directory_path": "/", "content": dataURL("text/plain", []byte("a"))})
	huge := `{"name":"b.txt","directory_path":"/","metadata":{"pad":"` + strings.Repeat("x", 3<<20) + `"}}`
	routes := []struct{ method, path string }{
		{http.MethodPost, "/v1/resources"},
		{http.MethodPut, "/v1/resource/" + res["id"].(string)},
	}
	for _, rt := range routes {
		for _, chunked := range []bool{false, true} {
			var body io.Reader = strings.NewReader(huge)
			if chunked {
				body = &onlyReader{strings.NewReader(huge)} // hides the length: chunked encoding
			}
			req, err := http.NewRequest(rt.method, e.url+rt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", rt.method, rt.path, err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				b, _ := io.ReadAll(resp.Body)
				t.Errorf("%s %s (chunked %v) = %d %s, want 413", rt.method, rt.path, chunked, resp.StatusCode, b)
			}
		}
	}
}

// onlyReader hides the concrete reader, so net/http cannot know the length.
type onlyReader struct{ r io.Reader }

func (o *onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// lockResources opens the test's PostgreSQL database a second time and
// holds an exclusive lock on the resources table until the test ends, so
// every query of the server waits.
func lockResources(t *testing.T, dbURL string) *sql.DB {
	t.Helper()
	admin := storetest.SQL(t, dbURL)
	tx, err := admin.Begin()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	if _, err := tx.Exec(`LOCK TABLE resources IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	return admin
}

// newLockedEnv serves PostgreSQL with the given statement timeout and the
// resources table locked; it returns a connection that can watch the
// server's backends.
func newLockedEnv(t *testing.T, timeout time.Duration) (*env, *sql.DB, *testkit.SyncBuffer) {
	t.Helper()
	dbURL := storetest.URL(t, store.Postgres)
	db, err := store.Open(context.Background(), dbURL, store.WithStatementTimeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	logs := &testkit.SyncBuffer{}
	e := newEnvWith(t, store.Postgres, func(c config) {
		c.Catalog.DB, c.Logger = db, slog.New(slog.NewJSONHandler(logs, nil))
	})
	return e, lockResources(t, dbURL), logs
}

// TestStatementTimeout turns a query stuck past DB_STATEMENT_TIMEOUT into
// 503 {"error"} with Retry-After, on time.
func TestStatementTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	e, _, _ := newLockedEnv(t, timeout)
	tok := readToken(t, "acct")
	start := time.Now()
	r := e.get("/v1/resources", tok)
	took := time.Since(start)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("stuck list = %d (Retry-After %q) %s, want 503 with Retry-After", r.status, r.header.Get("Retry-After"), r.body)
	}
	if took > timeout+fast {
		t.Errorf("503 came after %v, want about the %v timeout", took, timeout)
	}
}

// TestClientDisconnectStopsWork hangs up on a request whose query waits on
// a lock, and expects the server to cancel that query in PostgreSQL and to
// log a 499, not a server error.
func TestClientDisconnectStopsWork(t *testing.T) {
	e, watch, logs := newLockedEnv(t, time.Minute)
	tok := readToken(t, "acct")
	waiting := func() int {
		var n int
		err := watch.QueryRow(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/v1/resources", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	if !eventually(5*time.Second, func() bool { return waiting() > 0 }) {
		t.Fatal("the list query never reached PostgreSQL")
	}
	cancel()
	<-done
	if !eventually(5*time.Second, func() bool { return waiting() == 0 }) {
		t.Fatalf("the query still runs 5 s after the client left")
	}
	// A client hanging up is not a server fault.
	if !eventually(time.Second, func() bool { return strings.Contains(logs.String(), `"status":499`) }) ||
		strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("want the abandoned request logged as 499 and nothing at error level:\n%s", logs.String())
	}
}

func eventually(d time.Duration, f func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if f() {
			return true
		}
	}
	return f()
}

// TestResponseHeaders checks the headers every response carries, and the
// ones none may: no server banner, no framework name.
func TestResponseHeaders(t *testing.T) {
	e := newEnv(t, store.SQLite)
	tok := readToken(t, "acct")
	for _, path := range []string{"/healthz", "/readyz", "/openapi.yaml", "/v1/resources", "/v1/resources?page=0",
		"/v1/resource/" + strings.Repeat("0", 8), "/no/such/route", "/v1/resources?x=" + fmt.Sprint(1)} {
		for _, token := range []string{"", tok} {
			r := e.rawGet(path, token)
			if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("GET %s: X-Content-Type-Options = %q, want nosniff", path, got)
			}
			if strings.HasPrefix(path, "/v1/") && r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("GET %s: Cache-Control = %q, want no-store", path, r.header.Get("Cache-Control"))
			}
			for _, banner := range []string{"Server", "X-Powered-By", "X-AspNet-Version"} {
				if v := r.header.Get(banner); v != "" {
					t.Errorf("GET %s: %s: %q gives the software away", path, banner, v)
				}
			}
			if bytes.Contains(bytes.ToLower(r.body), []byte("echo")) {
				t.Errorf("GET %s: body names the framework: %.200s", path, r.body)
			}
		}
	}
}

// TestMalformedContent answers 400, never 500, to content the base64
// decoder gives up on, found by fuzzing the data URL reader.
func TestMalformedContent(t *testing.T) {
	e := newEnv(t, store.SQLite)
	tok := rwToken(t, "acct")
	for i, content := range []string{
		"data:text/plain;base64,aGVsbG8", // unpadded
		"data:text/plain;base64,a",
		"data:text/plain;base64,%%%",
		"data:text/plain;base64,aGVsbG8=aGk=",
	} {
		r := e.send(http.MethodPost, "/v1/resources", tok, map[string]any{
			"name": fmt.Sprintf("bad-%d.txt", i), "directory_path": "/", "content": content})
		if r.status != http.StatusBadRequest {
			t.Errorf("content %q = %d %s, want 400", content, r.status, r.body)
		}
	}
}
