package auth

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// Token describes a token for Sign to issue. Empty string fields are left
// out of the token.
type Token struct {
	Account, Subject, Scope string
	TTL                     time.Duration
	Issuer, Audience        string
	AccountClaim            string // default "account_id"
}

// Sign returns t as a compact HS256 JWT signed with secret, with iat set to
// now, exp to now plus t.TTL, and the account under t.AccountClaim. It is
// meant for development and tests.
//
// Sign returns an error when secret is shorter than MinSecretSize or t.TTL
// is not positive.
func Sign(secret []byte, t Token) (string, error) {
	switch {
	case len(secret) < MinSecretSize:
		return "", fmt.Errorf("auth: HMAC secret has %d bytes, need at least %d", len(secret), MinSecretSize)
	case t.TTL <= 0:
		return "", errors.New("auth: token TTL must be positive")
	}
	now := time.Now()
	b := jwt.NewBuilder().IssuedAt(now).Expiration(now.Add(t.TTL))
	optional := map[string]string{
		cmp.Or(t.AccountClaim, DefaultAccountClaim): t.Account,
		jwt.SubjectKey:  t.Subject,
		"scope":         t.Scope,
		jwt.IssuerKey:   t.Issuer,
		jwt.AudienceKey: t.Audience,
	}
	for name, value := range optional {
		if value != "" {
			b = b.Claim(name, value)
		}
	}
	token, err := b.Build()
	if err != nil {
		return "", fmt.Errorf("auth: building token: %w", err)
	}
	signed, err := jwt.Sign(token, jwt.WithKey(jwa.HS256(), secret))
	if err != nil {
		return "", fmt.Errorf("auth: signing token: %w", err)
	}
	return string(signed), nil
}
