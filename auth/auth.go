// Package auth authenticates requests to the resources API by their bearer
// JWT and tells which account (tenant) they act for.
//
// Tokens are verified with an HMAC secret (HS256, HS384, HS512), with the
// keys of a JWKS (RSA, RSA-PSS, ECDSA, Ed25519), or with both. The
// algorithm is always bounded by the key: a token's "alg" header only picks
// among the algorithms its key allows, and "none" is never accepted.
// Tokens checked against the JWKS must name their key with "kid"; symmetric
// keys in the JWKS are ignored, so HS256/384/512 tokens need Config.Secret.
package auth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultAccountClaim = "account_id"
	DefaultLeeway       = 30 * time.Second
)

// MinSecretSize is the least number of bytes an HMAC secret may have: the
// output size of SHA-256, as RFC 7518 §3.2 requires for HS256.
const MinSecretSize = 32

// startupTimeout bounds the initial JWKS fetch when ctx has no deadline.
const startupTimeout = 30 * time.Second

// Config says which tokens a Verifier accepts. Secret, JWKSURL or both must
// be set.
type Config struct {
	Secret       []byte        // HMAC secret: accepts HS256, HS384, HS512 tokens
	JWKSURL      string        // RS*/PS*/ES*/EdDSA keys, fetched and cached with jwk's cache, refreshed
	Issuer       string        // checked when non-empty
	Audience     string        // checked when non-empty
	AccountClaim string        // default "account_id"
	Leeway       time.Duration // default 30s, applied to exp/nbf/iat
	HTTPClient   *http.Client  // optional, for the JWKS fetch
}

// Principal is the identity a verified token carries.
type Principal struct {
	AccountID, Subject string
	Scopes             []string
}

// HasScope reports whether the token granted scope.
func (p Principal) HasScope(scope string) bool {
	return slices.Contains(p.Scopes, scope)
}

// Verifier checks bearer tokens. It is safe for concurrent use.
type Verifier struct {
	secret       []byte
	keys         *keySet
	accountClaim string
	validation   []jwt.ParseOption
	verified     verifiedTokens
}

// New returns a Verifier for cfg. With a JWKSURL it fetches the JWKS before
// returning, bounded by ctx (and by 30 seconds when ctx has no deadline),
// then keeps it refreshed in the background until Close; cancelling ctx
// later does not stop the refresh.
//
// New returns an error when neither Secret nor JWKSURL is set, when Secret
// is shorter than MinSecretSize, when Leeway is negative, or when the JWKS
// URL is not https (http is allowed for loopback hosts) or cannot be
// fetched and parsed.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	return newVerifier(ctx, cfg, defaultRefresh)
}

func newVerifier(ctx context.Context, cfg Config, refresh refreshPolicy) (*Verifier, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	v := &Verifier{
		secret:       slices.Clone(cfg.Secret),
		accountClaim: cmp.Or(cfg.AccountClaim, DefaultAccountClaim),
		validation:   validation(cfg),
	}
	if cfg.JWKSURL == "" {
		return v, nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startupTimeout)
		defer cancel()
	}
	keys, err := startKeySet(ctx, cfg.JWKSURL, cfg.HTTPClient, refresh)
	if err != nil {
		return nil, err
	}
	v.keys = keys
	return v, nil
}

func (cfg Config) check() error {
	switch {
	case len(cfg.Secret) == 0 && cfg.JWKSURL == "":
		return errors.New("auth: no verification key: set Secret, JWKSURL or both")
	case len(cfg.Secret) > 0 && len(cfg.Secret) < MinSecretSize:
		return fmt.Errorf("auth: HMAC secret has %d bytes, need at least %d", len(cfg.Secret), MinSecretSize)
	case cfg.Leeway < 0:
		return fmt.Errorf("auth: leeway %v is negative", cfg.Leeway)
	}
	return nil
}

// validation returns the jwt.Parse options that check the claims.
func validation(cfg Config) []jwt.ParseOption {
	options := []jwt.ParseOption{
		jwt.WithAcceptableSkew(cmp.Or(cfg.Leeway, DefaultLeeway)),
		// jwx accepts a token without exp unless told otherwise.
		jwt.WithRequiredClaim(jwt.ExpirationKey),
	}
	if cfg.Issuer != "" {
		options = append(options, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		options = append(options, jwt.WithAudience(cfg.Audience))
	}
	return options
}

// Close stops refreshing the JWKS. It returns an error only if the refresh
// goroutines do not stop within 5 seconds. A Verifier without JWKS has
// nothing to stop.
func (v *Verifier) Close() error {
	if v.keys == nil {
		return nil
	}
	return v.keys.close()
}

// Verify checks the bearer token in authorization, the raw value of an
// Authorization header, and returns the principal it carries. ctx bounds a
// JWKS fetch made when the token names a key the cached JWKS lacks.
//
// On failure it returns a Principal{} and an error whose message is a short
// reason that is safe to show to the client. The error matches
// ErrUnauthenticated when there is no acceptable token, and ErrForbidden
// when the token is valid but carries no account.
func (v *Verifier) Verify(ctx context.Context, authorization string) (Principal, error) {
	raw, err := bearerToken(authorization)
	if err != nil {
		return Principal{}, err
	}
	now := time.Now()
	if p, ok := v.cached(raw, now); ok {
		return p, nil
	}
	h, err := parseCompact(raw)
	if err != nil {
		return Principal{}, err
	}
	alg, key, err := v.key(ctx, h)
	if err != nil {
		return Principal{}, err
	}
	options := append([]jwt.ParseOption{jwt.WithKey(alg, key)}, v.validation...)
	token, err := jwt.ParseString(raw, options...)
	if err != nil {
		return Principal{}, invalidToken(reason(err))
	}
	p, err := v.principal(token)
	if err != nil {
		return Principal{}, err
	}
	e := verifiedToken{principal: p}
	if k, ok := key.(jwk.Key); ok {
		e.kid, e.key = h.Kid, k
	}
	exp, _ := token.Expiration() // required: jwt.ParseString has checked it
	v.verified.put(raw, e, exp, now)
	return p, nil
}

// key picks the key and algorithm that verify a token with header h.
func (v *Verifier) key(ctx context.Context, h header) (jwa.SignatureAlgorithm, any, error) {
	var none jwa.SignatureAlgorithm
	if h.Alg == "" {
		return none, nil, invalidToken("token header has no alg")
	}
	alg, ok := jwa.LookupSignatureAlgorithm(h.Alg)
	switch {
	case !ok:
		return none, nil, invalidToken("token algorithm is not supported")
	case alg == jwa.NoSignature():
		return none, nil, invalidToken("token algorithm none is not accepted")
	case alg.IsSymmetric() && len(v.secret) > 0:
		return alg, v.secret, nil
	case !alg.IsSymmetric() && v.keys != nil:
		key, err := v.keys.key(ctx, alg, h.Kid)
		return alg, key, err
	}
	return none, nil, invalidToken("token algorithm " + alg.String() + " is not accepted")
}

// reason turns a jwt.Parse error into a message safe for clients.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.TokenExpiredError()):
		return "token is expired"
	case errors.Is(err, jwt.TokenNotYetValidError()):
		return "token is not valid yet"
	case errors.Is(err, jwt.InvalidIssuedAtError()):
		return "token is issued in the future"
	case errors.Is(err, jwt.InvalidIssuerError()):
		return "token issuer is not accepted"
	case errors.Is(err, jwt.InvalidAudienceError()):
		return "token audience is not accepted"
	case errors.Is(err, jwt.MissingRequiredClaimError()):
		return "token is missing the exp claim"
	case errors.Is(err, jwt.ValidateError()):
		return "token is not valid"
	case errors.Is(err, jws.VerifyError()):
		return "token signature is invalid"
	}
	return "token claims are malformed"
}
