package auth

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// refreshPolicy says how often the JWKS is fetched again.
type refreshPolicy struct {
	// minInterval and maxInterval clamp the interval the JWKS server asks
	// for with Cache-Control or Expires; minInterval applies when it asks
	// for nothing.
	minInterval, maxInterval time.Duration
	// unknownKidCooldown is the least time between two fetches caused by
	// tokens naming a kid the cached set lacks, so that such tokens cannot
	// make us hammer the JWKS server.
	unknownKidCooldown time.Duration
}

var defaultRefresh = refreshPolicy{
	minInterval:        5 * time.Minute,
	maxInterval:        time.Hour,
	unknownKidCooldown: 30 * time.Second,
}

// keySet is a JWKS kept fresh by a jwk.Cache.
type keySet struct {
	url      string
	cache    *jwk.Cache
	set      jwk.Set
	cooldown time.Duration

	mu          sync.Mutex // serialises fetches for unknown kids
	lastRefresh time.Time
}

// startKeySet fetches the JWKS at rawURL and keeps it refreshed until Close.
// ctx bounds only the initial fetch.
func startKeySet(ctx context.Context, rawURL string, client *http.Client, policy refreshPolicy) (*keySet, error) {
	if err := checkJWKSURL(rawURL); err != nil {
		return nil, err
	}
	var fetchOptions []jwk.FetchOption
	registerOptions := []jwk.RegisterOption{
		jwk.WithMinInterval(policy.minInterval),
		jwk.WithMaxInterval(policy.maxInterval),
	}
	if client != nil {
		fetchOptions = append(fetchOptions, jwk.WithHTTPClient(client))
		registerOptions = append(registerOptions, jwk.WithHTTPClient(client))
	}
	// The cache only reports that a failed first fetch timed out; a direct
	// fetch first fails fast and says why.
	initial, err := jwk.Fetch(ctx, rawURL, fetchOptions...)
	if err != nil {
		return nil, fmt.Errorf("auth: fetching JWKS: %w", err)
	}
	if initial.Len() == 0 {
		return nil, fmt.Errorf("auth: JWKS at %s has no keys", rawURL)
	}
	cache, err := jwk.NewCache(context.WithoutCancel(ctx), httprc.NewClient(httprc.WithWorkers(1)))
	if err != nil {
		return nil, fmt.Errorf("auth: starting JWKS cache: %w", err)
	}
	ks := &keySet{url: rawURL, cache: cache, cooldown: policy.unknownKidCooldown}
	if err := ks.register(ctx, registerOptions); err != nil {
		_ = ks.close()
		return nil, err
	}
	return ks, nil
}

func (ks *keySet) register(ctx context.Context, options []jwk.RegisterOption) error {
	if err := ks.cache.Register(ctx, ks.url, options...); err != nil {
		return fmt.Errorf("auth: registering JWKS with the cache: %w", err)
	}
	set, err := ks.cache.CachedSet(ks.url)
	if err != nil {
		return fmt.Errorf("auth: looking up cached JWKS: %w", err)
	}
	ks.set = set
	return nil
}

// checkJWKSURL refuses plain HTTP except to a loopback host: keys fetched
// over a network in the clear could be replaced by anyone on the path.
func checkJWKSURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("auth: JWKS URL: %w", err)
	}
	switch {
	case u.Scheme == "https" && u.Host != "":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("auth: JWKS URL %q must be https (http is allowed only for loopback hosts)", rawURL)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (ks *keySet) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ks.cache.Shutdown(ctx); err != nil {
		return fmt.Errorf("auth: stopping JWKS cache: %w", err)
	}
	return nil
}

// key returns the verification key for a token signed with alg by the key
// named kid.
func (ks *keySet) key(ctx context.Context, alg jwa.SignatureAlgorithm, kid string) (jwk.Key, error) {
	if kid == "" {
		return nil, invalidToken("token header has no kid")
	}
	key, ok := ks.lookup(ctx, kid)
	if !ok {
		return nil, invalidToken("token signing key is unknown")
	}
	if use, ok := key.KeyUsage(); ok && use != "" && use != jwk.ForSignature.String() {
		return nil, invalidToken("token signing key is not a signature key")
	}
	if !slices.Contains(algorithmsFor(key), alg) {
		return nil, invalidToken("token algorithm does not match its signing key")
	}
	return key, nil
}

// lookup finds kid in the cached set, fetching the set again if kid is
// missing, since it may be a key the issuer has just rotated in.
func (ks *keySet) lookup(ctx context.Context, kid string) (jwk.Key, bool) {
	if key, ok := ks.set.LookupKeyID(kid); ok {
		return key, true
	}
	ks.refresh(ctx)
	return ks.set.LookupKeyID(kid)
}

// refresh fetches the set again unless that was done within the cooldown.
// A failed fetch keeps the keys already cached, so its error only means
// that the kid stays unknown.
func (ks *keySet) refresh(ctx context.Context) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if !ks.lastRefresh.IsZero() && time.Since(ks.lastRefresh) < ks.cooldown {
		return
	}
	ks.lastRefresh = time.Now()
	_, _ = ks.cache.Refresh(ctx, ks.url)
}

// algorithmsFor returns the signature algorithms key may verify: its "alg"
// member when present, else those implied by its type and curve. Symmetric
// keys yield none: HMAC tokens are verified only with Config.Secret.
func algorithmsFor(key jwk.Key) []jwa.SignatureAlgorithm {
	if alg, ok := key.Algorithm(); ok {
		if salg, ok := jwa.LookupSignatureAlgorithm(alg.String()); ok && !salg.IsSymmetric() {
			return []jwa.SignatureAlgorithm{salg}
		}
		return nil
	}
	switch key.KeyType() {
	case jwa.RSA():
		return []jwa.SignatureAlgorithm{jwa.RS256(), jwa.RS384(), jwa.RS512(), jwa.PS256(), jwa.PS384(), jwa.PS512()}
	case jwa.EC():
		switch curve(key) {
		case jwa.P256():
			return []jwa.SignatureAlgorithm{jwa.ES256()}
		case jwa.P384():
			return []jwa.SignatureAlgorithm{jwa.ES384()}
		case jwa.P521():
			return []jwa.SignatureAlgorithm{jwa.ES512()}
		}
	case jwa.OKP():
		if curve(key) == jwa.Ed25519() {
			return []jwa.SignatureAlgorithm{jwa.EdDSA(), jwa.EdDSAEd25519()}
		}
	}
	return nil
}

// curve returns the "crv" of an EC or OKP key, or the zero value.
func curve(key jwk.Key) jwa.EllipticCurveAlgorithm {
	k, ok := key.(interface {
		Crv() (jwa.EllipticCurveAlgorithm, bool)
	})
	if !ok {
		return jwa.EllipticCurveAlgorithm{}
	}
	crv, _ := k.Crv()
	return crv
}
