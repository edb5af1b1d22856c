package auth

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
)

// TestVerifiedTokens: a token that passed is served from the cache until
// its exp or verifiedTTL, whichever is first, and then checked in full.
func TestVerifiedTokens(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		name      string
		exp       time.Time
		wantUntil time.Time // zero: not cached
	}{
		{"long-lived token: the TTL", now.Add(time.Hour), now.Add(verifiedTTL)},
		{"token expiring first: its exp", now.Add(20 * time.Second), now.Add(20 * time.Second).Truncate(time.Second)},
		{"expired, within leeway: not cached", now.Add(-10 * time.Second), time.Time{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := newHMACVerifier(t, Config{})
			tok := signJWS(t, jwa.HS256(), testSecret, "", claims(map[string]any{"exp": tt.exp.Unix()}))
			first, err := v.Verify(context.Background(), "Bearer "+tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			e, cached := v.verified.entries[tok]
			if cached != !tt.wantUntil.IsZero() {
				t.Fatalf("cached = %v, want %v", cached, !tt.wantUntil.IsZero())
			}
			if !cached {
				return
			}
			if d := e.until.Sub(tt.wantUntil); d < 0 || d > time.Second {
				t.Errorf("cached until %v, want %v", e.until, tt.wantUntil)
			}
			again, err := v.Verify(context.Background(), "Bearer "+tok)
			if err != nil || again.AccountID != first.AccountID || again.Subject != first.Subject ||
				fmt.Sprint(again.Scopes) != fmt.Sprint(first.Scopes) {
				t.Errorf("again = %+v, %v; want %+v", again, err, first)
			}
		})
	}
}

// TestVerifiedTokensExpire: once past its time a cached token is checked in
// full again, so an expired token is refused even if it passed before.
func TestVerifiedTokensExpire(t *testing.T) {
	v := newHMACVerifier(t, Config{})
	tok := signJWS(t, jwa.HS256(), testSecret, "", claims(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}))
	e := verifiedToken{principal: Principal{AccountID: "acct-1", Subject: "user-1", Scopes: []string{"resources:read"}}}
	v.verified.put(tok, e, time.Now().Add(-time.Hour), time.Now().Add(-time.Hour-time.Minute)) // as if verified then
	_, err := v.Verify(context.Background(), "Bearer "+tok)
	checkFailure(t, err, ErrUnauthenticated, "token is expired")
	if _, ok := v.verified.entries[tok]; ok {
		t.Error("the expired token is still cached")
	}
}

// TestVerifiedTokensBounded: the cache never holds more than maxVerified
// tokens, dropping expired ones first.
func TestVerifiedTokensBounded(t *testing.T) {
	var c verifiedTokens
	now := time.Now()
	p := verifiedToken{principal: Principal{AccountID: "a"}}
	for i := range maxVerified {
		c.put(fmt.Sprint("old", i), p, now.Add(time.Second), now)
	}
	later := now.Add(2 * time.Second)
	c.put("new", p, later.Add(time.Hour), later)
	if len(c.entries) != 1 {
		t.Errorf("%d entries after the others expired, want 1", len(c.entries))
	}
	for i := range 2 * maxVerified {
		c.put(fmt.Sprint("live", i), p, later.Add(time.Hour), later)
	}
	if len(c.entries) != maxVerified {
		t.Errorf("%d entries, want %d", len(c.entries), maxVerified)
	}
	if _, ok := c.get(fmt.Sprint("live", 2*maxVerified-1), later); !ok {
		t.Error("the newest token is not cached")
	}
}

// TestVerifiedTokensJWKS: a token verified with a JWKS key is served from
// the cache only while that key is the set's key for its kid.
func TestVerifiedTokensJWKS(t *testing.T) {
	srv := newJWKSServer(t, publicJWK(t, rsaKey1(), "a", "RS256"))
	v := newJWKSVerifier(t, Config{JWKSURL: srv.URL}, defaultRefresh)
	tok := signJWS(t, jwa.RS256(), rsaKey1(), "a", claims(nil))
	if _, err := v.Verify(context.Background(), "Bearer "+tok); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if _, ok := v.cached(tok, time.Now()); !ok {
		t.Fatal("a verified JWKS token is not served from the cache")
	}
	e := v.verified.entries[tok]
	e.key = publicJWK(t, rsaKey1(), "a", "RS256") // the same key material, another object
	v.verified.entries[tok] = e
	if _, ok := v.cached(tok, time.Now()); ok {
		t.Error("the cache serves a token whose key is no longer the set's")
	}
}
