package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

func TestVerifyHMAC(t *testing.T) {
	v := newHMACVerifier(t, Config{})
	for _, alg := range []jwa.SignatureAlgorithm{jwa.HS256(), jwa.HS384(), jwa.HS512()} {
		t.Run(alg.String(), func(t *testing.T) {
			token := signJWS(t, alg, testSecret, "", claims(nil))
			p, err := v.Verify(context.Background(), "Bearer "+token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := Principal{AccountID: "acct-1", Subject: "user-1", Scopes: []string{"resources:read"}}
			if !equalPrincipal(p, want) {
				t.Errorf("got %+v, want %+v", p, want)
			}
		})
	}
}

func TestVerifyAcceptsSchemeInAnyCase(t *testing.T) {
	v := newHMACVerifier(t, Config{})
	token := signJWS(t, jwa.HS256(), testSecret, "", claims(nil))
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
		if _, err := v.Verify(context.Background(), scheme+" "+token); err != nil {
			t.Errorf("scheme %q: %v", scheme, err)
		}
	}
}

func TestVerifyWithoutSubject(t *testing.T) {
	v := newHMACVerifier(t, Config{})
	token := signJWS(t, jwa.HS256(), testSecret, "", claims(map[string]any{"sub": nil}))
	p, err := v.Verify(context.Background(), "Bearer "+token)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if p.Subject != "" || p.AccountID != "acct-1" {
		t.Errorf("got %+v, want empty subject and account acct-1", p)
	}
}

func TestVerifyUnauthenticated(t *testing.T) {
	v := newHMACVerifier(t, Config{})
	now := time.Now()
	sign := func(c map[string]any) string { return signJWS(t, jwa.HS256(), testSecret, "", c) }
	valid := sign(claims(nil))
	parts := strings.Split(valid, ".")
	enc := base64.RawURLEncoding.EncodeToString
	hs256Header := `{"alg":"HS256","typ":"JWT"}`

	jsonSerialized, err := jws.Sign([]byte(jsonText(t, claims(nil))), jws.WithKey(jwa.HS256(), testSecret), jws.WithJSON())
	if err != nil {
		t.Fatal(err)
	}
	otherSecret := make([]byte, 32)
	if _, err := rand.Read(otherSecret); err != nil {
		t.Fatal(err)
	}
	tampered := parts[0] + "." + enc([]byte(jsonText(t, claims(map[string]any{"account_id": "acct-2"})))) + "." + parts[2]
	// An HS256 header over an HS512 signature by the right secret.
	hs512AsHS256 := func() string {
		real := strings.Split(signJWS(t, jwa.HS512(), testSecret, "", claims(nil)), ".")
		return parts[0] + "." + real[1] + "." + real[2]
	}()
	huge := sign(claims(map[string]any{"padding": strings.Repeat("x", maxTokenSize)}))

	tests := []struct {
		name          string
		authorization string
		want          string
	}{
		{"no header", "", "missing Authorization header"},
		{"blank header", "   ", "missing Authorization header"},
		{"basic scheme", "Basic dXNlcjpwYXNz", "authorization scheme must be Bearer"},
		{"token scheme", "Token " + valid, "authorization scheme must be Bearer"},
		{"bare token", valid, "authorization scheme must be Bearer"},
		{"scheme only", "Bearer", "bearer token is empty"},
		{"blank token", "Bearer    ", "bearer token is empty"},
		{"one part", "Bearer abc", "three dot-separated parts"},
		{"two parts", "Bearer " + parts[0] + "." + parts[1], "three dot-separated parts"},
		{"five parts", "Bearer " + valid + ".a.b", "three dot-separated parts"},
		{"JSON serialization", "Bearer " + string(jsonSerialized), "compact serialization"},
		{"header not base64url", "Bearer !!!." + parts[1] + "." + parts[2], "token header is not valid base64url"},
		{"header padded base64", "Bearer " + base64.URLEncoding.EncodeToString([]byte(`{"alg": "HS256"}`)) + "." + parts[1] + "." + parts[2], "token header is not valid base64url"},
		{"header not JSON", "Bearer " + enc([]byte("alg=HS256")) + "." + parts[1] + "." + parts[2], "token header is not a valid JSON object"},
		{"header JSON array", "Bearer " + enc([]byte(`["HS256"]`)) + "." + parts[1] + "." + parts[2], "token header is not a valid JSON object"},
		{"payload not base64url", "Bearer " + parts[0] + ".$$$." + parts[2], "token payload is not valid base64url"},
		{"payload not JSON", "Bearer " + hs256(testSecret, hs256Header, `{"exp":`), "token payload is not a valid JSON object"},
		{"payload JSON string", "Bearer " + hs256(testSecret, hs256Header, `"acct-1"`), "token payload is not a valid JSON object"},
		{"signature not base64url", "Bearer " + parts[0] + "." + parts[1] + ".***", "token signature is not valid base64url"},
		{"signature by another secret", "Bearer " + signJWS(t, jwa.HS256(), otherSecret, "", claims(nil)), "token signature is invalid"},
		{"tampered payload", "Bearer " + tampered, "token signature is invalid"},
		{"empty signature", "Bearer " + parts[0] + "." + parts[1] + ".", "token signature is invalid"},
		{"alg mismatch with signature", "Bearer " + hs512AsHS256, "token signature is invalid"},
		{"alg none", "Bearer " + enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".", "token algorithm none is not accepted"},
		{"alg None", "Bearer " + enc([]byte(`{"alg":"None"}`)) + "." + parts[1] + ".", "token algorithm is not supported"},
		{"alg unknown", "Bearer " + hs256(testSecret, `{"alg":"HS999"}`, jsonText(t, claims(nil))), "token algorithm is not supported"},
		{"alg missing", "Bearer " + hs256(testSecret, `{"typ":"JWT"}`, jsonText(t, claims(nil))), "token header has no alg"},
		{"alg without key", "Bearer " + signJWS(t, jwa.RS256(), rsaKey1(), "k1", claims(nil)), "token algorithm RS256 is not accepted"},
		{"crit header", "Bearer " + hs256(testSecret, `{"alg":"HS256","crit":["exp"],"exp":1}`, jsonText(t, claims(nil))), "crit extensions"},
		{"expired", "Bearer " + sign(claims(map[string]any{"exp": now.Add(-time.Hour).Unix()})), "token is expired"},
		{"not yet valid", "Bearer " + sign(claims(map[string]any{"nbf": now.Add(time.Hour).Unix()})), "token is not valid yet"},
		{"issued in the future", "Bearer " + sign(claims(map[string]any{"iat": now.Add(time.Hour).Unix()})), "token is issued in the future"},
		{"missing exp", "Bearer " + sign(claims(map[string]any{"exp": nil})), "token is missing the exp claim"},
		{"exp not a date", "Bearer " + sign(claims(map[string]any{"exp": "tomorrow"})), "token claims are malformed"},
		{"scope not a string", "Bearer " + sign(claims(map[string]any{"scope": []string{"resources:read"}})), "token scope claim must be a space-separated string"},
		{"scp with a number", "Bearer " + sign(claims(map[string]any{"scp": []any{"resources:read", 7}})), "token scp claim must be a string or an array of strings"},
		{"scp object", "Bearer " + sign(claims(map[string]any{"scp": map[string]any{"a": "b"}})), "token scp claim must be a string or an array of strings"},
		{"token over 8 KiB", "Bearer " + huge, "token is larger than 8 KiB"},
		{"garbage over 8 KiB", "Bearer " + strings.Repeat("a", maxTokenSize+1), "token is larger than 8 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), tt.authorization)
			checkFailure(t, err, ErrUnauthenticated, tt.want)
			if errors.Is(err, ErrForbidden) {
				t.Errorf("error %q also matches ErrForbidden", err)
			}
			if !equalPrincipal(p, Principal{}) {
				t.Errorf("got principal %+v with an error", p)
			}
		})
	}
}

func TestVerifyTokenAtSizeLimit(t *testing.T) {
	v := newHMACVerifier(t, Config{})
	base := signJWS(t, jwa.HS256(), testSecret, "", claims(map[string]any{"padding": ""}))
	// Grow the padding claim until the token is exactly 8 KiB long; base64
	// makes the length move in steps, so search for the exact size.
	var token string
	for n := maxTokenSize - len(base); n > 0; n-- {
		token = signJWS(t, jwa.HS256(), testSecret, "", claims(map[string]any{"padding": strings.Repeat("x", n)}))
		if len(token) <= maxTokenSize {
			break
		}
	}
	if len(token) > maxTokenSize || len(token) < maxTokenSize-4 {
		t.Fatalf("could not build a token close to the limit: %d bytes", len(token))
	}
	if _, err := v.Verify(context.Background(), "Bearer "+token); err != nil {
		t.Errorf("token of %d bytes: %v", len(token), err)
	}
}

func TestVerifyForbidden(t *testing.T) {
	tests := []struct {
		name         string
		accountClaim string
		claims       map[string]any
		want         string
	}{
		{"no account claim", "", claims(map[string]any{"account_id": nil}), "token has no account_id claim"},
		{"empty account", "", claims(map[string]any{"account_id": ""}), "token account_id claim must be a non-empty string"},
		{"numeric account", "", claims(map[string]any{"account_id": 42}), "token account_id claim must be a non-empty string"},
		{"array account", "", claims(map[string]any{"account_id": []any{"acct-1"}}), "token account_id claim must be a non-empty string"},
		{"configured claim missing", "tenant", claims(nil), "token has no tenant claim"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newHMACVerifier(t, Config{AccountClaim: tt.accountClaim})
			token := signJWS(t, jwa.HS256(), testSecret, "", tt.claims)
			_, err := v.Verify(context.Background(), "Bearer "+token)
			checkFailure(t, err, ErrForbidden, tt.want)
			if errors.Is(err, ErrUnauthenticated) {
				t.Errorf("error %q also matches ErrUnauthenticated", err)
			}
		})
	}
}

func TestVerifyConfiguredAccountClaim(t *testing.T) {
	v := newHMACVerifier(t, Config{AccountClaim: "tenant"})
	token := signJWS(t, jwa.HS256(), testSecret, "", claims(map[string]any{"tenant": "acct-9"}))
	p, err := v.Verify(context.Background(), "Bearer "+token)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if p.AccountID != "acct-9" {
		t.Errorf("got account %q, want acct-9 from the tenant claim", p.AccountID)
	}
}

func TestVerifyLeeway(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name   string
		leeway time.Duration
		claim  string
		offset time.Duration
		want   string // empty when the token must pass
	}{
		{"expired 10s ago", 0, "exp", -10 * time.Second, ""},
		{"expired 60s ago", 0, "exp", -60 * time.Second, "token is expired"},
		{"nbf in 10s", 0, "nbf", 10 * time.Second, ""},
		{"nbf in 60s", 0, "nbf", 60 * time.Second, "token is not valid yet"},
		{"iat in 10s", 0, "iat", 10 * time.Second, ""},
		{"iat in 60s", 0, "iat", 60 * time.Second, "token is issued in the future"},
		{"expired 10s ago, leeway 5s", 5 * time.Second, "exp", -10 * time.Second, "token is expired"},
		{"expired 60s ago, leeway 2m", 2 * time.Minute, "exp", -60 * time.Second, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newHMACVerifier(t, Config{Leeway: tt.leeway})
			c := claims(map[string]any{tt.claim: now.Add(tt.offset).Unix()})
			_, err := v.Verify(context.Background(), "Bearer "+signJWS(t, jwa.HS256(), testSecret, "", c))
			checkVerified(t, err, tt.want)
		})
	}
}

func TestVerifyIssuerAndAudience(t *testing.T) {
	v := newHMACVerifier(t, Config{Issuer: "https://issuer.test/", Audience: "resources-api"})
	tests := []struct {
		name   string
		claims map[string]any
		want   string // empty when the token must pass
	}{
		{"both match", map[string]any{"iss": "https://issuer.test/", "aud": "resources-api"}, ""},
		{"audience in a list", map[string]any{"iss": "https://issuer.test/", "aud": []string{"other", "resources-api"}}, ""},
		{"wrong issuer", map[string]any{"iss": "https://evil.test/", "aud": "resources-api"}, "token issuer is not accepted"},
		{"missing issuer", map[string]any{"aud": "resources-api"}, "token issuer is not accepted"},
		{"wrong audience", map[string]any{"iss": "https://issuer.test/", "aud": "billing-api"}, "token audience is not accepted"},
		{"audience list without ours", map[string]any{"iss": "https://issuer.test/", "aud": []string{"a", "b"}}, "token audience is not accepted"},
		{"missing audience", map[string]any{"iss": "https://issuer.test/"}, "token audience is not accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := signJWS(t, jwa.HS256(), testSecret, "", claims(tt.claims))
			_, err := v.Verify(context.Background(), "Bearer "+token)
			checkVerified(t, err, tt.want)
		})
	}
}

func TestVerifyIgnoresIssuerAndAudienceWhenNotConfigured(t *testing.T) {
	v := newHMACVerifier(t, Config{})
	token := signJWS(t, jwa.HS256(), testSecret, "", claims(map[string]any{"iss": "anyone", "aud": "anything"}))
	if _, err := v.Verify(context.Background(), "Bearer "+token); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestVerifyScopes(t *testing.T) {
	v := newHMACVerifier(t, Config{})
	tests := []struct {
		name   string
		claims map[string]any
		want   []string
	}{
		{"scope string", map[string]any{"scope": "resources:read resources:write"}, []string{"resources:read", "resources:write"}},
		{"scope with extra spaces", map[string]any{"scope": "  resources:read   resources:write "}, []string{"resources:read", "resources:write"}},
		{"scp array", map[string]any{"scope": nil, "scp": []string{"resources:read", "resources:write"}}, []string{"resources:read", "resources:write"}},
		{"scp string", map[string]any{"scope": nil, "scp": "resources:write resources:read"}, []string{"resources:write", "resources:read"}},
		{"union without duplicates", map[string]any{"scope": "a b a", "scp": []string{"b", "c"}}, []string{"a", "b", "c"}},
		{"no scope", map[string]any{"scope": nil}, nil},
		{"empty scope", map[string]any{"scope": "", "scp": []string{}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := signJWS(t, jwa.HS256(), testSecret, "", claims(tt.claims))
			p, err := v.Verify(context.Background(), "Bearer "+token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !slices.Equal(p.Scopes, tt.want) {
				t.Errorf("got scopes %q, want %q", p.Scopes, tt.want)
			}
		})
	}
}

func TestHasScope(t *testing.T) {
	p := Principal{Scopes: []string{"resources:read", "resources:write"}}
	tests := []struct {
		scope string
		want  bool
	}{
		{"resources:read", true},
		{"resources:write", true},
		{"resources", false},
		{"RESOURCES:READ", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := p.HasScope(tt.scope); got != tt.want {
			t.Errorf("HasScope(%q) = %v, want %v", tt.scope, got, tt.want)
		}
	}
	if (Principal{}).HasScope("resources:read") {
		t.Error("a principal without scopes has resources:read")
	}
}

func TestNewRejectsConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no keys", Config{}, "no verification key"},
		{"empty secret", Config{Secret: []byte{}}, "no verification key"},
		{"short secret", Config{Secret: []byte("secret")}, "HMAC secret has 6 bytes, need at least 32"},
		{"negative leeway", Config{Secret: testSecret, Leeway: -time.Second}, "leeway -1s is negative"},
		{"plain http JWKS", Config{JWKSURL: "http://keys.example.com/jwks.json"}, "must be https"},
		{"JWKS URL without scheme", Config{JWKSURL: "keys.example.com/jwks.json"}, "must be https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkNewRefuses(t, context.Background(), tt.cfg, tt.want) })
	}
}

func TestCloseWithoutJWKS(t *testing.T) {
	v := newHMACVerifier(t, Config{})
	if err := v.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func equalPrincipal(a, b Principal) bool {
	return a.AccountID == b.AccountID && a.Subject == b.Subject && slices.Equal(a.Scopes, b.Scopes)
}
