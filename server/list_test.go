package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/auth"
	"github.com/re-factor/resources/store"
)

var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// newResource builds a valid resource; tests change what they look at.
func newResource(account, dir, name string, created time.Time, tags ...string) resources.Resource {
	if tags == nil {
		tags = []string{}
	}
	id := uuid.New().String()
	return resources.Resource{
		ID: id, AccountID: account, Name: name, DirectoryPath: dir,
		MimeType: "text/plain", SHA256: strings.Repeat("ab", 32),
		StorageBucket: "test", StorageKey: account + "/" + id, SizeBytes: 42,
		Tags: tags, CreatedAt: created, UpdatedAt: created,
	}
}

func seed(t *testing.T, db *store.DB, rs ...resources.Resource) {
	t.Helper()
	seq := func(yield func(resources.Resource, error) bool) {
		for _, r := range rs {
			if !yield(r, nil) {
				return
			}
		}
	}
	if _, err := db.ImportResources(t.Context(), seq); err != nil {
		t.Fatalf("seed %d resources: %v", len(rs), err)
	}
}

type listBody struct {
	Items    []map[string]any `json:"items"`
	Total    int              `json:"total"`
	Page     int              `json:"page"`
	PageSize int              `json:"page_size"`
}

func (e *env) list(query, token string) listBody {
	e.t.Helper()
	return decodeAs[listBody](e.t, e.get("/v1/resources?"+query, token), http.StatusOK, "GET /v1/resources?"+query)
}

func names(b listBody) []string {
	out := make([]string, len(b.Items))
	for i, it := range b.Items {
		out[i] = it["name"].(string)
	}
	return out
}

func TestListDefaultsAndShape(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		withMeta := newResource("acct", "/docs", "a.txt", t0, "a", "b")
		withMeta.Metadata = []byte(`{"k":"v"}`)
		seed(t, e.db, withMeta, newResource("acct", "/docs", "b.txt", t0.Add(time.Second)))

		b := e.list("", readToken(t, "acct"))
		if b.Page != 1 || b.PageSize != 20 || b.Total != 2 || len(b.Items) != 2 {
			t.Fatalf("page=%d page_size=%d total=%d items=%d, want 1, 20, 2, 2", b.Page, b.PageSize, b.Total, len(b.Items))
		}
		if got := names(b); got[0] != "b.txt" {
			t.Errorf("default order = %v, want newest first", got)
		}
		newest, oldest := b.Items[0], b.Items[1]
		for _, field := range []string{"original_uri", "external_id", "external_storage_type", "metadata", "created_by"} {
			if _, ok := newest[field]; ok {
				t.Errorf("%s present without a value (want omitted): %v", field, newest[field])
			}
		}
		if tags, ok := newest["tags"].([]any); !ok || len(tags) != 0 {
			t.Errorf("tags = %v, want []", newest["tags"])
		}
		if fmt.Sprint(oldest["tags"]) != "[a b]" || fmt.Sprint(oldest["metadata"]) != "map[k:v]" {
			t.Errorf("tags, metadata = %v, %v; want [a b], map[k:v]", oldest["tags"], oldest["metadata"])
		}
		if got := oldest["created_at"]; got != "2024-03-01T12:00:00Z" {
			t.Errorf("created_at = %v, want RFC 3339 UTC with Z", got)
		}
	})
}

func TestListFiltersAndPages(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		seed(t, e.db,
			newResource("acct", "/a", "1", t0, "red", "blue"),
			newResource("acct", "/a/b", "2", t0.Add(1*time.Hour), "red"),
			newResource("acct", "/a%b", "3", t0.Add(2*time.Hour), "Red"),
			newResource("acct", "/ab", "4", t0.Add(3*time.Hour)),
			newResource("other", "/a", "x", t0, "red"),
		)
		tok := readToken(t, "acct")
		tests := []struct {
			query string
			want  string
			total int
		}{
			{"", "[4 3 2 1]", 4},
			{"sort=asc", "[1 2 3 4]", 4},
			{"tags=red", "[2 1]", 2},
			{"tags=" + url.QueryEscape(" red , blue ,,red"), "[1]", 1},
			{"tags=Red", "[3]", 1},
			{"tags=" + url.QueryEscape(" , "), "[4 3 2 1]", 4},
			{"directory_prefix=/a/", "[2]", 1},
			{"directory_prefix=" + url.QueryEscape("/a%"), "[3]", 1},
			{"directory_prefix=" + url.QueryEscape("/a_"), "[]", 0},
			{"directory_prefix=/A", "[]", 0},
			{"directory_prefix=", "[4 3 2 1]", 4},
			{"created_after=2024-03-01T13:00:00Z", "[4 3]", 2},
			{"created_before=2024-03-01T13:00:00Z", "[1]", 1},
			{"created_after=2024-03-01T14:00:00%2B01:00", "[4 3]", 2},
			{"created_after=2024-03-01T14:00:00+01:00", "[4 3]", 2},
			{"created_before=2024-03-01T12:00:01-01:00&created_after=2024-03-01T12:00:00Z", "[2]", 1},
			{"created_after=2024-03-01T15:00:00Z&created_before=2024-03-01T12:00:00Z", "[]", 0},
			{"page_size=3", "[4 3 2]", 4},
			{"page_size=3&page=2", "[1]", 4},
			{"page_size=3&page=3", "[]", 4},
			{"page=9223372036854775807&page_size=100", "[]", 4},
			{"unknown=1&tags=red", "[2 1]", 2},
		}
		for _, tt := range tests {
			b := e.list(tt.query, tok)
			if got := fmt.Sprint(names(b)); got != tt.want || b.Total != tt.total {
				t.Errorf("?%s: items %s total %d, want %s total %d", tt.query, got, b.Total, tt.want, tt.total)
			}
		}
	})
}

func TestListTenantIsolation(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		seed(t, e.db, newResource("a", "/x", "mine", t0, "t"), newResource("b", "/x", "theirs", t0, "t"))
		for _, account := range []string{"a", "b", "c"} {
			b := e.list("tags=t&directory_prefix=/x", readToken(t, account))
			for _, it := range b.Items {
				if it["account_id"] != account {
					t.Errorf("account %s sees %v", account, it)
				}
			}
			want := 1
			if account == "c" {
				want = 0
			}
			if b.Total != want || len(b.Items) != want {
				t.Errorf("account %s: total %d items %d, want %d", account, b.Total, len(b.Items), want)
			}
		}
	})
}

func TestListBadParameters(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		tok := readToken(t, "acct")
		tests := []struct{ query, param string }{
			{"page=0", "page"},
			{"page=-1", "page"},
			{"page=abc", "page"},
			{"page=1.5", "page"},
			{"page=99999999999999999999", "page"},
			{"page_size=0", "page_size"},
			{"page_size=101", "page_size"},
			{"page_size=ten", "page_size"},
			{"sort=up", "sort"},
			{"created_after=yesterday", "created_after"},
			{"created_after=2023-02-29T00:00:00Z", "created_after"},
			{"created_before=2024-01-01T00:00:00", "created_before"},
			{"tags=a&tags=b", "tags"},
		}
		for _, tt := range tests {
			r := e.get("/v1/resources?"+tt.query, tok)
			if r.status != http.StatusBadRequest {
				t.Errorf("?%s = %d %s, want 400", tt.query, r.status, r.body)
				continue
			}
			if msg := r.errorMessage(t); !strings.Contains(msg, `"`+tt.param+`"`) || strings.Contains(msg, "\n") {
				t.Errorf("?%s: error %q does not name %q on one line", tt.query, msg, tt.param)
			}
		}
	})
}

func TestAuthFailures(t *testing.T) {
	e := newEnv(t, "sqlite")
	tests := []struct {
		name, header string
		status       int
	}{
		{"no header", "", http.StatusUnauthorized},
		{"not bearer", "Basic dXNlcjpwYXNz", http.StatusUnauthorized},
		{"malformed", "Bearer not-a-jwt", http.StatusUnauthorized},
		{"bad signature", "Bearer " + signWith(t, "another-secret-of-at-least-32-bytes!", "acct", "resources:read", time.Hour), http.StatusUnauthorized},
		{"expired", "Bearer " + signClaims(t, map[string]any{"account_id": "acct", "scope": "resources:read", "exp": time.Now().Add(-time.Hour).Unix()}), http.StatusUnauthorized},
		{"no exp", "Bearer " + signClaims(t, map[string]any{"account_id": "acct", "scope": "resources:read"}), http.StatusUnauthorized},
		{"no scope", "Bearer " + signWith(t, testSecret, "acct", "", time.Hour), http.StatusForbidden},
		{"write scope only", "Bearer " + signWith(t, testSecret, "acct", "resources:write", time.Hour), http.StatusForbidden},
		{"no account", "Bearer " + signNoAccount(t), http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(http.MethodGet, "/v1/resources?page=0", "", http.Header{"Authorization": {tt.header}})
			if r.status != tt.status {
				t.Fatalf("status = %d %s, want %d", r.status, r.body, tt.status)
			}
			challenge := r.header.Get("WWW-Authenticate")
			if tt.status == http.StatusUnauthorized && !strings.HasPrefix(challenge, "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", challenge)
			}
		})
	}
}

func signWith(t *testing.T, secret, account, scope string, ttl time.Duration) string {
	t.Helper()
	return mustSign(t, secret, auth.Token{Account: account, Scope: scope, TTL: ttl})
}

// signNoAccount puts the account under another claim, so the token is valid
// but names no account_id.
func signNoAccount(t *testing.T) string {
	t.Helper()
	return mustSign(t, testSecret, auth.Token{Account: "acct", Scope: "resources:read", TTL: time.Hour, AccountClaim: "tenant"})
}

// signClaims signs exactly the given claims, for tokens Sign refuses to make.
func signClaims(t *testing.T, claims map[string]any) string {
	t.Helper()
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			t.Fatalf("set claim %s: %v", k, err)
		}
	}
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.HS256(), []byte(testSecret)))
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return string(b)
}

func mustSign(t *testing.T, secret string, tok auth.Token) string {
	t.Helper()
	s, err := auth.Sign([]byte(secret), tok)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func TestRoutingErrorsAreJSON(t *testing.T) {
	e := newEnv(t, "sqlite")
	tok := readToken(t, "acct")
	if r := e.get("/v1/nope", tok); r.status != http.StatusNotFound {
		t.Errorf("unknown route = %d, want 404", r.status)
	}
	if r := e.do(http.MethodPatch, "/v1/resources", tok, nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("PATCH /v1/resources = %d, want 405", r.status)
	}
}

func TestHeaders(t *testing.T) {
	e := newEnv(t, "sqlite")
	r := e.do(http.MethodGet, "/v1/resources", readToken(t, "acct"), http.Header{"X-Request-Id": {"abc-123"}})
	if got := r.header.Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("X-Request-Id = %q, want the caller's abc-123", got)
	}
	if r.header.Get("Cache-Control") != "no-store" || r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("security headers missing: %v", r.header)
	}
	if r := e.get("/healthz", ""); r.status != http.StatusOK {
		t.Errorf("/healthz = %d", r.status)
	}
	if r := e.get("/readyz", ""); r.status != http.StatusOK {
		t.Errorf("/readyz = %d", r.status)
	}
}

func TestDatabaseDownIsNotA500Leak(t *testing.T) {
	e := newEnv(t, "sqlite")
	e.db.Close()
	r := e.get("/v1/resources", readToken(t, "acct"))
	if r.status < 500 {
		t.Fatalf("status = %d, want 5xx", r.status)
	}
	if r := e.get("/readyz", ""); r.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the database closed = %d, want 503", r.status)
	}
}
