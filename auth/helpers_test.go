package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

var testSecret = []byte("test-secret-0123456789abcdef-0123456789")

// claims returns valid claims for the default configuration, changed by
// overrides; an override with a nil value removes the claim.
func claims(overrides map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{
		"exp":        now.Add(5 * time.Minute).Unix(),
		"iat":        now.Unix(),
		"sub":        "user-1",
		"account_id": "acct-1",
		"scope":      "resources:read",
	}
	for name, value := range overrides {
		if value == nil {
			delete(c, name)
			continue
		}
		c[name] = value
	}
	return c
}

// signJWS signs claims with key under alg, adding kid to the protected
// header when it is not empty.
func signJWS(t *testing.T, alg jwa.SignatureAlgorithm, key any, kid string, c map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		t.Fatal(err)
	}
	if kid != "" {
		if err := hdr.Set(jws.KeyIDKey, kid); err != nil {
			t.Fatal(err)
		}
	}
	signed, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatalf("signing %s token: %v", alg, err)
	}
	return string(signed)
}

// hs256 returns a compact token whose header and payload segments are the
// given raw JSON texts, with a valid HS256 signature by secret over them.
// It builds what jwx would refuse to, such as payloads that are not JSON.
func hs256(secret []byte, header, payload string) string {
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	return input + "." + enc.EncodeToString(hmacSHA256(secret, input))
}

func hmacSHA256(secret []byte, input string) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return mac.Sum(nil)
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkVerified checks Verify's error: none where want is empty, else an
// ErrUnauthenticated saying want (checkFailure).
func checkVerified(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		return
	}
	checkFailure(t, err, ErrUnauthenticated, want)
}

// checkFailure fails t unless err matches sentinel and its message
// contains want and looks fit for a client.
func checkFailure(t *testing.T, err, sentinel error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v %q", sentinel, want)
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("error %q does not match %v", err, sentinel)
	}
	msg := err.Error()
	if !strings.Contains(msg, want) {
		t.Errorf("error %q does not contain %q", msg, want)
	}
	if len(msg) > 80 || strings.ContainsAny(msg, "%*{}\n") ||
		strings.Contains(msg, "jws") || strings.Contains(msg, "jwt.") || strings.Contains(msg, "jwk") {
		t.Errorf("error %q is not a short, safe reason", msg)
	}
}

func newHMACVerifier(t *testing.T, cfg Config) *Verifier {
	t.Helper()
	cfg.Secret = testSecret
	v, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v
}

// checkNewRefuses checks that New refuses cfg with an error containing
// want, closing the Verifier should it be made.
func checkNewRefuses(t *testing.T, ctx context.Context, cfg Config, want string) {
	t.Helper()
	v, err := New(ctx, cfg)
	if err == nil {
		_ = v.Close()
		t.Fatal("New succeeded")
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
}

// Keys are generated once: RSA generation is slow under the race detector.
var (
	rsaKey1 = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA() })
	rsaKey2 = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA() })
	ecKey   = sync.OnceValue(func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
	ecKey384 = sync.OnceValue(func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
	edKey = sync.OnceValue(func() ed25519.PrivateKey {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
)

func mustRSA() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

// publicJWK returns the public half of priv as a JWK with the given kid and,
// when alg is not empty, alg.
func publicJWK(t *testing.T, priv any, kid, alg string) jwk.Key {
	t.Helper()
	key, err := jwk.PublicKeyOf(priv)
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]string{jwk.KeyIDKey: kid, jwk.AlgorithmKey: alg}
	for name, value := range set {
		if value == "" {
			continue
		}
		if err := key.Set(name, value); err != nil {
			t.Fatal(err)
		}
	}
	return key
}

// jwksServer serves a JWKS that tests can replace, and counts its fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	fetches atomic.Int32
	down    atomic.Bool // when set, every fetch fails with 503
}

func newJWKSServer(t *testing.T, keys ...jwk.Key) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.publish(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		if s.down.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		s.mu.Lock()
		body := s.body
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) publish(t *testing.T, keys ...jwk.Key) {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range keys {
		if err := set.AddKey(k); err != nil {
			t.Fatal(err)
		}
	}
	body, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

func newJWKSVerifier(t *testing.T, cfg Config, policy refreshPolicy) *Verifier {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := newVerifier(ctx, cfg, policy)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := v.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return v
}
