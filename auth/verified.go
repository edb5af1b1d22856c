package auth

import (
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Bounds of the verified-token cache.
const (
	// verifiedTTL is the longest a token's principal is served from the
	// cache before its signature and claims are checked again.
	verifiedTTL = time.Minute
	// maxVerified bounds the cache's size: at most 8 MiB of tokens.
	maxVerified = 1024
)

// verifiedTokens remembers the principals of tokens that passed Verify.
// Clients send the same token with every request, and checking its
// signature and claims again was a third of the server's allocations on a
// list request. Only the exact bytes that were verified hit, and only
// until the token's exp (without leeway) or verifiedTTL, whichever is
// first, and for a token checked against the JWKS only while the set's key
// for its kid is the very key that verified it (a refetched set has new
// keys); after that the token is checked in full again. exp is the one
// claim check that can turn from pass to fail as time goes on (nbf and iat
// only turn the other way).
type verifiedTokens struct {
	mu      sync.Mutex
	entries map[string]verifiedToken
}

type verifiedToken struct {
	principal Principal
	kid       string  // the JWKS key that verified it, by kid
	key       jwk.Key // and as it was; nil for the HMAC secret
	until     time.Time
}

// get returns the entry of token if it was verified and is still within
// its time at now.
func (c *verifiedTokens) get(token string, now time.Time) (verifiedToken, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[token]
	if !ok {
		return verifiedToken{}, false
	}
	if !now.Before(e.until) {
		delete(c.entries, token)
		return verifiedToken{}, false
	}
	return e, true
}

// put remembers that token, whose exp is exp, was verified at now as e
// says (its until is set here).
func (c *verifiedTokens) put(token string, e verifiedToken, exp, now time.Time) {
	until := now.Add(verifiedTTL)
	if exp.Before(until) {
		until = exp
	}
	if !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]verifiedToken)
	}
	if len(c.entries) >= maxVerified {
		for k, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries { // still full: drop one at random
			if len(c.entries) < maxVerified {
				break
			}
			delete(c.entries, k)
		}
	}
	e.until = until
	c.entries[token] = e
}

// cached returns the principal of token if the cache holds it at now and
// the key that verified it is still the current one.
func (v *Verifier) cached(token string, now time.Time) (Principal, bool) {
	e, ok := v.verified.get(token, now)
	if !ok {
		return Principal{}, false
	}
	if e.key != nil {
		if v.keys == nil {
			return Principal{}, false
		}
		if cur, ok := v.keys.set.LookupKeyID(e.kid); !ok || cur != e.key {
			return Principal{}, false
		}
	}
	return e.principal, true
}
