package server_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/re-factor/resources/auth"
	"github.com/re-factor/resources/internal/testkit"
	"github.com/re-factor/resources/store"
)

const (
	attackIssuer   = "https://issuer.example"
	attackAudience = "resources-api"
	attackKid      = "key-1"
)

// attackKeys is the identity provider the attack suite's server trusts: an
// HMAC secret and one RSA key published as a JWKS.
type attackKeys struct {
	rsa    *rsa.PrivateKey
	pubPEM []byte
	jwks   *httptest.Server
}

func newAttackKeys(t *testing.T) *attackKeys {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.Import(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{jwk.KeyIDKey: attackKid, jwk.AlgorithmKey: jwa.RS256()} {
		if err := key.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	set := jwk.NewSet()
	if err := set.AddKey(key); err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return &attackKeys{rsa: priv, pubPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), jwks: srv}
}

// claimsWith returns valid claims for the suite's server, changed by
// overrides; a nil value removes the claim.
func claimsWith(overrides map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": attackIssuer, "aud": attackAudience, "sub": "mallory", "account_id": "victim",
		"scope": rwScope, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range overrides {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

var b64 = base64.RawURLEncoding

func segment(v any) string {
	if s, ok := v.(string); ok {
		return b64.EncodeToString([]byte(s))
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b64.EncodeToString(b)
}

// hsToken signs header and claims (JSON values, or raw text as strings)
// with HMAC-SHA256 under key, whatever the header says.
func hsToken(key []byte, header, claims any) string {
	input := segment(header) + "." + segment(claims)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(input))
	return input + "." + b64.EncodeToString(m.Sum(nil))
}

// rsToken signs with RSASSA-PKCS1-v1_5 SHA-256 under key.
func rsToken(t *testing.T, key *rsa.PrivateKey, header, claims any) string {
	t.Helper()
	input := segment(header) + "." + segment(claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64.EncodeToString(sig)
}

// attackRoutes is every /v1 operation, with a body where it takes one.
func attackRoutes(id string) []struct{ method, path, body string } {
	create := `{"name":"x.txt","directory_path":"/","content":"data:text/plain;base64,eA=="}`
	return []struct{ method, path, body string }{
		{http.MethodGet, "/v1/resources", ""},
		{http.MethodPost, "/v1/resources", create},
		{http.MethodGet, "/v1/resource/" + id, ""},
		{http.MethodPut, "/v1/resource/" + id, `{"name":"y.txt"}`},
		{http.MethodDelete, "/v1/resource/" + id, ""},
		{http.MethodGet, "/v1/resource/" + id + "/content", ""},
	}
}

// TestTokenAttacks sends forged, expired, malformed and oversized tokens to
// every /v1 route of a server that trusts an HMAC secret and a JWKS, with
// issuer and audience checks on. Each must get 401 with a challenge, never
// touch the victim's data, and log nothing at error level.
func TestTokenAttacks(t *testing.T) {
	keys := newAttackKeys(t)
	logs := &testkit.SyncBuffer{}
	e := newEnvWith(t, store.SQLite, func(c config) {
		v, err := auth.New(context.Background(), auth.Config{Secret: []byte(testSecret), JWKSURL: keys.jwks.URL,
			Issuer: attackIssuer, Audience: attackAudience})
		if err != nil {
			t.Fatalf("auth.New: %v", err)
		}
		t.Cleanup(func() { v.Close() })
		c.Verifier = v
		c.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	})
	secret := []byte(testSecret)
	hs := map[string]any{"alg": "HS256", "typ": "JWT"}
	rs := map[string]any{"alg": "RS256", "typ": "JWT", "kid": attackKid}
	now := time.Now()

	// Controls: the same server accepts well-made tokens of both kinds.
	victim := e.mustCreate(hsToken(secret, hs, claimsWith(nil)), map[string]any{
		"name": "secret.txt", "directory_path": "/", "content": dataURL("text/plain", []byte("victim data"))})
	id := victim["id"].(string)
	if r := e.get("/v1/resource/"+id, rsToken(t, keys.rsa, rs, claimsWith(nil))); r.status != http.StatusOK {
		t.Fatalf("control: valid RS256 token = %d %s", r.status, r.body)
	}

	valid := hsToken(secret, hs, claimsWith(nil))
	parts := strings.Split(valid, ".")
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	big := hsToken(secret, hs, claimsWith(map[string]any{"pad": strings.Repeat("A", 9<<10)}))
	jsonJWS, _ := json.Marshal(map[string]any{"payload": parts[1],
		"signatures": []any{map[string]string{"protected": parts[0], "signature": parts[2]}}})

	attacks := []struct {
		name, authorization string
		wantMsg             string // part of the error message, when it matters
	}{
		{"no header", "", ""},
		{"basic scheme", "Basic dXNlcjpwYXNz", ""},
		{"empty bearer", "Bearer ", ""},
		{"alg none", "Bearer " + segment(map[string]any{"alg": "none", "typ": "JWT"}) + "." + segment(claimsWith(nil)) + ".", "none"},
		{"alg None", "Bearer " + segment(map[string]any{"alg": "None"}) + "." + segment(claimsWith(nil)) + ".", ""},
		{"alg none with signature", "Bearer " + segment(map[string]any{"alg": "none"}) + "." + segment(claimsWith(nil)) + "." + parts[2], ""},
		{"no alg", "Bearer " + hsToken(secret, map[string]any{"typ": "JWT"}, claimsWith(nil)), ""},
		{"unsupported alg", "Bearer " + hsToken(secret, map[string]any{"alg": "XX512"}, claimsWith(nil)), ""},
		{"HS256 signed with the RSA public key", "Bearer " + hsToken(keys.pubPEM, map[string]any{"alg": "HS256", "kid": attackKid}, claimsWith(nil)), ""},
		{"HS256 signed with the RSA modulus", "Bearer " + hsToken(keys.rsa.PublicKey.N.Bytes(), hs, claimsWith(nil)), ""},
		{"RS256 unknown kid", "Bearer " + rsToken(t, keys.rsa, map[string]any{"alg": "RS256", "kid": "nope"}, claimsWith(nil)), ""},
		{"RS256 no kid", "Bearer " + rsToken(t, keys.rsa, map[string]any{"alg": "RS256"}, claimsWith(nil)), ""},
		{"kid path traversal", "Bearer " + rsToken(t, keys.rsa, map[string]any{"alg": "RS256", "kid": "../../../../etc/passwd"}, claimsWith(nil)), ""},
		{"kid SQL", "Bearer " + rsToken(t, keys.rsa, map[string]any{"alg": "RS256", "kid": "x' UNION SELECT 'secret' --"}, claimsWith(nil)), ""},
		{"kid URL", "Bearer " + rsToken(t, keys.rsa, map[string]any{"alg": "RS256", "kid": "http://127.0.0.1:1/jwks"}, claimsWith(nil)), ""},
		{"jku and x5u headers", "Bearer " + rsToken(t, otherKey, map[string]any{"alg": "RS256", "kid": attackKid, "jku": "http://127.0.0.1:1/", "x5u": "http://127.0.0.1:1/"}, claimsWith(nil)), ""},
		{"embedded jwk header", "Bearer " + rsToken(t, otherKey, map[string]any{"alg": "RS256", "kid": attackKid, "jwk": map[string]any{"kty": "RSA", "n": b64.EncodeToString(otherKey.N.Bytes()), "e": "AQAB"}}, claimsWith(nil)), ""},
		{"RS256 by another key", "Bearer " + rsToken(t, otherKey, rs, claimsWith(nil)), ""},
		{"HS256 by another secret", "Bearer " + hsToken([]byte("another-secret-0123456789abcdef-xyz"), hs, claimsWith(nil)), ""},
		{"payload swapped", "Bearer " + parts[0] + "." + segment(claimsWith(map[string]any{"account_id": "mallory"})) + "." + parts[2], ""},
		{"signature stripped", "Bearer " + parts[0] + "." + parts[1] + ".", ""},
		{"crit header", "Bearer " + hsToken(secret, map[string]any{"alg": "HS256", "crit": []string{"exp"}}, claimsWith(nil)), ""},
		{"expired", "Bearer " + hsToken(secret, hs, claimsWith(map[string]any{"exp": now.Add(-time.Hour).Unix()})), "expired"},
		{"nbf in the future", "Bearer " + hsToken(secret, hs, claimsWith(map[string]any{"nbf": now.Add(time.Hour).Unix()})), ""},
		{"no exp", "Bearer " + hsToken(secret, hs, claimsWith(map[string]any{"exp": nil})), ""},
		{"exp as string", "Bearer " + hsToken(secret, hs, claimsWith(map[string]any{"exp": "never"})), ""},
		{"wrong iss", "Bearer " + hsToken(secret, hs, claimsWith(map[string]any{"iss": "https://evil.example"})), ""},
		{"no iss", "Bearer " + hsToken(secret, hs, claimsWith(map[string]any{"iss": nil})), ""},
		{"wrong aud", "Bearer " + hsToken(secret, hs, claimsWith(map[string]any{"aud": "other-api"})), ""},
		{"no aud", "Bearer " + hsToken(secret, hs, claimsWith(map[string]any{"aud": nil})), ""},
		{"JSON serialization", "Bearer " + string(jsonJWS), "compact"},
		{"over 8 KiB", "Bearer " + big, "8 KiB"},
		{"two parts", "Bearer " + parts[0] + "." + parts[1], ""},
		{"four parts", "Bearer " + valid + ".x", ""},
		{"header not base64", "Bearer !!!." + parts[1] + "." + parts[2], ""},
		{"payload not base64", "Bearer " + parts[0] + ".%%%." + parts[2], ""},
		{"signature not base64", "Bearer " + parts[0] + "." + parts[1] + ".***", ""},
		{"padded base64", "Bearer " + parts[0] + "==." + parts[1] + "." + parts[2], ""},
		{"header not JSON", "Bearer " + hsToken(secret, `{"alg":"HS256"`, claimsWith(nil)), ""},
		{"payload not JSON", "Bearer " + hsToken(secret, hs, `{"account_id":`), ""},
		{"header is an array", "Bearer " + hsToken(secret, `["HS256"]`, claimsWith(nil)), ""},
		{"payload is a string", "Bearer " + hsToken(secret, hs, `"victim"`), ""},
		{"non-ASCII byte in token", "Bearer " + parts[0] + "\xff." + parts[1] + "." + parts[2], ""},
	}
	n := 0
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			for _, rt := range attackRoutes(id) {
				r := sendRaw(t, e.url, rt.method, rt.path, a.authorization, rt.body)
				n++
				if r.status != http.StatusUnauthorized {
					t.Fatalf("%s %s = %d %s, want 401", rt.method, rt.path, r.status, r.body)
				}
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s %s: WWW-Authenticate = %q", rt.method, rt.path, r.header.Get("WWW-Authenticate"))
				}
				if msg := r.errorMessage(t); !strings.Contains(msg, a.wantMsg) {
					t.Errorf("%s %s: error %q does not mention %q", rt.method, rt.path, msg, a.wantMsg)
				}
			}
		})
	}

	forbidden := []struct{ name, token string }{
		{"no scope", hsToken(secret, hs, claimsWith(map[string]any{"scope": nil}))},
		{"other scope", hsToken(secret, hs, claimsWith(map[string]any{"scope": "admin"}))},
		{"scope as prefix", hsToken(secret, hs, claimsWith(map[string]any{"scope": "resources:readwrite"}))},
		{"no account", hsToken(secret, hs, claimsWith(map[string]any{"account_id": nil}))},
		{"empty account", hsToken(secret, hs, claimsWith(map[string]any{"account_id": ""}))},
	}
	for _, f := range forbidden {
		t.Run(f.name, func(t *testing.T) {
			for _, rt := range attackRoutes(id) {
				r := sendRaw(t, e.url, rt.method, rt.path, "Bearer "+f.token, rt.body)
				n++
				if r.status != http.StatusForbidden {
					t.Errorf("%s %s = %d %s, want 403", rt.method, rt.path, r.status, r.body)
				}
			}
		})
	}

	if r := e.get("/v1/resource/"+id+"/content", valid); r.status != http.StatusOK || string(r.body) != "victim data" {
		t.Errorf("after the attacks the victim's resource = %d %q, want it untouched", r.status, r.body)
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("attacks were logged at error level:\n%s", logs.String())
	}
	t.Logf("%d token attacks × routes sent, all rejected", n)
}

// sendRaw sends one request with the raw Authorization value (none when
// empty) and a JSON body (none when empty).
func sendRaw(t testing.TB, base, method, path, authorization, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if authorization != "" {
		req.Header["Authorization"] = []string{authorization}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: buf.Bytes()}
	checkCommon(t, method+" "+path, r)
	return r
}
