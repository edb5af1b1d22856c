package auth

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// testKeys returns the JWKS used by most tests: one key of each kind, some
// with "alg" and some without.
func testKeys(t *testing.T) []jwk.Key {
	t.Helper()
	octet, err := jwk.Import(rsaPublicPEM(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string]string{jwk.KeyIDKey: "oct", jwk.AlgorithmKey: "HS256"} {
		if err := octet.Set(name, value); err != nil {
			t.Fatal(err)
		}
	}
	encryption := publicJWK(t, rsaKey2(), "enc", "RS256")
	if err := encryption.Set(jwk.KeyUsageKey, "enc"); err != nil {
		t.Fatal(err)
	}
	return []jwk.Key{
		publicJWK(t, rsaKey1(), "rsa", "RS256"),
		publicJWK(t, rsaKey1(), "rsa-any", ""),
		publicJWK(t, ecKey(), "ec", "ES256"),
		publicJWK(t, ecKey384(), "ec384-any", ""),
		publicJWK(t, edKey(), "ed", "EdDSA"),
		publicJWK(t, edKey(), "ed-any", ""),
		octet,
		encryption,
	}
}

// rsaPublicPEM returns the PEM encoding of rsaKey1's public key: the bytes
// an algorithm-confusion attacker would use as an HMAC secret.
func rsaPublicPEM(t *testing.T) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&rsaKey1().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestVerifyJWKS(t *testing.T) {
	srv := newJWKSServer(t, testKeys(t)...)
	v := newJWKSVerifier(t, Config{JWKSURL: srv.URL}, defaultRefresh)
	tests := []struct {
		alg jwa.SignatureAlgorithm
		key any
		kid string
	}{
		{jwa.RS256(), rsaKey1(), "rsa"},
		{jwa.RS256(), rsaKey1(), "rsa-any"},
		{jwa.RS512(), rsaKey1(), "rsa-any"},
		{jwa.PS256(), rsaKey1(), "rsa-any"},
		{jwa.ES256(), ecKey(), "ec"},
		{jwa.ES384(), ecKey384(), "ec384-any"},
		{jwa.EdDSA(), edKey(), "ed"},
		{jwa.EdDSA(), edKey(), "ed-any"},
		{jwa.EdDSAEd25519(), edKey(), "ed-any"},
	}
	for _, tt := range tests {
		t.Run(tt.alg.String()+" "+tt.kid, func(t *testing.T) {
			token := signJWS(t, tt.alg, tt.key, tt.kid, claims(nil))
			p, err := v.Verify(context.Background(), "Bearer "+token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.AccountID != "acct-1" || p.Subject != "user-1" || !p.HasScope("resources:read") {
				t.Errorf("got %+v", p)
			}
		})
	}
}

func TestVerifyJWKSUnauthenticated(t *testing.T) {
	srv := newJWKSServer(t, testKeys(t)...)
	v := newJWKSVerifier(t, Config{JWKSURL: srv.URL}, defaultRefresh)
	expired := claims(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()})
	tests := []struct {
		name  string
		token string
		want  string
	}{
		{"unknown kid", signJWS(t, jwa.RS256(), rsaKey2(), "nope", claims(nil)), "token signing key is unknown"},
		{"no kid", signJWS(t, jwa.RS256(), rsaKey1(), "", claims(nil)), "token header has no kid"},
		{"signed by another key", signJWS(t, jwa.RS256(), rsaKey2(), "rsa", claims(nil)), "token signature is invalid"},
		{"alg other than the key's", signJWS(t, jwa.RS512(), rsaKey1(), "rsa", claims(nil)), "token algorithm does not match its signing key"},
		{"EC alg for an RSA key", signJWS(t, jwa.ES256(), ecKey(), "rsa-any", claims(nil)), "token algorithm does not match its signing key"},
		{"ES256 for a P-384 key", signJWS(t, jwa.ES256(), ecKey(), "ec384-any", claims(nil)), "token algorithm does not match its signing key"},
		{"RSA alg for an Ed25519 key", signJWS(t, jwa.RS256(), rsaKey1(), "ed-any", claims(nil)), "token algorithm does not match its signing key"},
		{"HS256 with the RSA key as secret", signJWS(t, jwa.HS256(), rsaPublicPEM(t), "rsa", claims(nil)), "token algorithm HS256 is not accepted"},
		{"HS256 with a JWKS octet key", signJWS(t, jwa.HS256(), rsaPublicPEM(t), "oct", claims(nil)), "token algorithm HS256 is not accepted"},
		{"encryption key", signJWS(t, jwa.RS256(), rsaKey2(), "enc", claims(nil)), "token signing key is not a signature key"},
		{"expired", signJWS(t, jwa.ES256(), ecKey(), "ec", expired), "token is expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), "Bearer "+tt.token)
			checkFailure(t, err, ErrUnauthenticated, tt.want)
		})
	}
}

// With both a secret and a JWKS, an HS256 token "signed" with a public
// key from the JWKS must still be checked against the secret only.
func TestVerifyAlgorithmConfusionWithSecretAndJWKS(t *testing.T) {
	srv := newJWKSServer(t, testKeys(t)...)
	v := newJWKSVerifier(t, Config{Secret: testSecret, JWKSURL: srv.URL}, defaultRefresh)
	tests := []struct {
		name  string
		token string
		want  string // empty when the token must pass
	}{
		{"HS256 with the secret", signJWS(t, jwa.HS256(), testSecret, "", claims(nil)), ""},
		{"RS256 with the JWKS", signJWS(t, jwa.RS256(), rsaKey1(), "rsa", claims(nil)), ""},
		{"HS256 with the RSA key as secret", signJWS(t, jwa.HS256(), rsaPublicPEM(t), "rsa", claims(nil)), "token signature is invalid"},
		{"HS256 with the RSA key as secret, no kid", signJWS(t, jwa.HS256(), rsaPublicPEM(t), "", claims(nil)), "token signature is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), "Bearer "+tt.token)
			checkVerified(t, err, tt.want)
		})
	}
}

func TestJWKSRotation(t *testing.T) {
	keyA := publicJWK(t, rsaKey1(), "a", "RS256")
	keyB := publicJWK(t, ecKey(), "b", "ES256")
	keyC := publicJWK(t, edKey(), "c", "EdDSA")
	tokenA := "Bearer " + signJWS(t, jwa.RS256(), rsaKey1(), "a", claims(nil))
	tokenB := "Bearer " + signJWS(t, jwa.ES256(), ecKey(), "b", claims(nil))
	tokenC := "Bearer " + signJWS(t, jwa.EdDSA(), edKey(), "c", claims(nil))

	srv := newJWKSServer(t, keyA)
	v := newJWKSVerifier(t, Config{JWKSURL: srv.URL}, defaultRefresh)
	ctx := context.Background()
	if _, err := v.Verify(ctx, tokenA); err != nil {
		t.Fatalf("token A before rotation: %v", err)
	}

	srv.publish(t, keyB)
	fetches := srv.fetches.Load()
	if _, err := v.Verify(ctx, tokenB); err != nil {
		t.Fatalf("token B after rotation: %v", err)
	}
	if got := srv.fetches.Load() - fetches; got != 1 {
		t.Errorf("rotation caused %d fetches, want 1", got)
	}
	_, err := v.Verify(ctx, tokenA)
	checkFailure(t, err, ErrUnauthenticated, "token signing key is unknown")

	// Within the cooldown an unknown kid causes no fetch, even when the
	// JWKS has in fact changed.
	srv.publish(t, keyB, keyC)
	fetches = srv.fetches.Load()
	_, err = v.Verify(ctx, tokenC)
	checkFailure(t, err, ErrUnauthenticated, "token signing key is unknown")
	if got := srv.fetches.Load() - fetches; got != 0 {
		t.Errorf("unknown kid within the cooldown caused %d fetches, want 0", got)
	}
}

func TestJWKSOutageKeepsCachedKeys(t *testing.T) {
	srv := newJWKSServer(t, publicJWK(t, ecKey(), "ec", "ES256"))
	v := newJWKSVerifier(t, Config{JWKSURL: srv.URL}, defaultRefresh)
	srv.down.Store(true)
	ctx := context.Background()

	unknown := "Bearer " + signJWS(t, jwa.RS256(), rsaKey1(), "new", claims(nil))
	fetches := srv.fetches.Load()
	_, err := v.Verify(ctx, unknown)
	checkFailure(t, err, ErrUnauthenticated, "token signing key is unknown")
	if srv.fetches.Load() == fetches {
		t.Error("an unknown kid caused no fetch")
	}
	known := "Bearer " + signJWS(t, jwa.ES256(), ecKey(), "ec", claims(nil))
	if _, err := v.Verify(ctx, known); err != nil {
		t.Fatalf("cached key after a failed refresh: %v", err)
	}
}

func TestVerifyConcurrentWithRotation(t *testing.T) {
	srv := newJWKSServer(t, publicJWK(t, rsaKey1(), "a", "RS256"))
	v := newJWKSVerifier(t, Config{Secret: testSecret, JWKSURL: srv.URL}, defaultRefresh)
	srv.publish(t, publicJWK(t, rsaKey1(), "a", "RS256"), publicJWK(t, ecKey(), "b", "ES256"))
	tokens := []string{
		"Bearer " + signJWS(t, jwa.RS256(), rsaKey1(), "a", claims(nil)),
		"Bearer " + signJWS(t, jwa.ES256(), ecKey(), "b", claims(nil)),
		"Bearer " + signJWS(t, jwa.HS256(), testSecret, "", claims(nil)),
	}
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for i := range 30 {
		wg.Go(func() {
			if _, err := v.Verify(context.Background(), tokens[i%len(tokens)]); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Verify: %v", err)
	}
}

func TestJWKSPeriodicRefresh(t *testing.T) {
	keyA := publicJWK(t, rsaKey1(), "a", "RS256")
	keyB := publicJWK(t, ecKey(), "b", "ES256")
	srv := newJWKSServer(t, keyA)
	policy := refreshPolicy{minInterval: time.Second, maxInterval: time.Second, unknownKidCooldown: time.Hour}
	v := newJWKSVerifier(t, Config{JWKSURL: srv.URL}, policy)
	ctx := context.Background()

	// Use up the fetch an unknown kid may cause, so that only the periodic
	// refresh can pick up key B.
	unknown := "Bearer " + signJWS(t, jwa.RS256(), rsaKey1(), "unknown", claims(nil))
	if _, err := v.Verify(ctx, unknown); err == nil {
		t.Fatal("token with an unknown kid passed")
	}
	srv.publish(t, keyB)
	tokenB := "Bearer " + signJWS(t, jwa.ES256(), ecKey(), "b", claims(nil))
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.Verify(ctx, tokenB)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("key B not picked up within 5s of a 1s refresh interval: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestNewJWKSFailures(t *testing.T) {
	serve := func(status int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name string
		url  string
		want string
	}{
		{"not found", serve(http.StatusNotFound, "no"), "fetching JWKS"},
		{"not JSON", serve(http.StatusOK, "<html>"), "fetching JWKS"},
		{"no keys", serve(http.StatusOK, `{"keys":[]}`), "has no keys"},
		{"unreachable", closed.URL, "fetching JWKS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			checkNewRefuses(t, ctx, Config{JWKSURL: tt.url}, tt.want)
		})
	}
}

// headerTransport adds a header to every request, as a client configured
// for a JWKS behind a gateway would.
type headerTransport struct{ name, value string }

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.name, h.value)
	return http.DefaultTransport.RoundTrip(r)
}

func TestNewUsesHTTPClient(t *testing.T) {
	jwks := newJWKSServer(t, publicJWK(t, ecKey(), "ec", "ES256"))
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Gateway-Key") != "open-sesame" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		jwks.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(gateway.Close)

	if v, err := New(context.Background(), Config{JWKSURL: gateway.URL}); err == nil {
		_ = v.Close()
		t.Fatal("New succeeded without the gateway header")
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: headerTransport{"X-Gateway-Key", "open-sesame"}}
	v := newJWKSVerifier(t, Config{JWKSURL: gateway.URL, HTTPClient: client}, defaultRefresh)
	token := signJWS(t, jwa.ES256(), ecKey(), "ec", claims(nil))
	if _, err := v.Verify(context.Background(), "Bearer "+token); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestCloseStopsJWKSCache(t *testing.T) {
	srv := newJWKSServer(t, publicJWK(t, ecKey(), "ec", "ES256"))
	v, err := New(context.Background(), Config{JWKSURL: srv.URL})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for i := range 2 {
		if err := v.Close(); err != nil {
			t.Errorf("Close #%d: %v", i+1, err)
		}
	}
}
