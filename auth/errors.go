package auth

import (
	"errors"
	"strings"
)

// ErrUnauthenticated is matched (with errors.Is) by every Verify error that
// calls for a 401 response: the request carries no usable credentials.
var ErrUnauthenticated = errors.New("unauthenticated")

// ErrForbidden is matched (with errors.Is) by every Verify error that calls
// for a 403 response: the token is valid but does not grant access.
var ErrForbidden = errors.New("forbidden")

// authError carries a reason that is safe to show to the client. Its message
// is the reason alone so that handlers can return it verbatim.
type authError struct {
	kind         error
	reason       string
	tokenPresent bool
}

func (e *authError) Error() string { return e.reason }
func (e *authError) Unwrap() error { return e.kind }

// noCredentials reports a request that did not present a bearer token.
func noCredentials(reason string) error {
	return &authError{kind: ErrUnauthenticated, reason: reason}
}

// invalidToken reports a bearer token that was present but is not acceptable.
func invalidToken(reason string) error {
	return &authError{kind: ErrUnauthenticated, reason: reason, tokenPresent: true}
}

// InvalidToken returns the error for a bearer token that was present but
// is not acceptable, saying reason to the client: a 401 whose challenge
// carries error="invalid_token". It is for tokens Verify does not check
// (an upload link's).
func InvalidToken(reason string) error { return invalidToken(reason) }

func forbidden(reason string) error {
	return &authError{kind: ErrForbidden, reason: reason, tokenPresent: true}
}

// Challenge returns the value of the WWW-Authenticate header to send with a
// 401 response caused by err. It is always a Bearer challenge for the
// "re-factor" realm; when err reports a token that was present but invalid,
// it adds error="invalid_token" and the reason as error_description
// (RFC 6750 §3). For any other err, including nil, it returns the bare
// challenge.
func Challenge(err error) string {
	const bare = `Bearer realm="re-factor"`
	var ae *authError
	if !errors.As(err, &ae) || ae.kind != ErrUnauthenticated || !ae.tokenPresent {
		return bare
	}
	return bare + `, error="invalid_token", error_description="` + quote(ae.reason) + `"`
}

// quote escapes s for use inside an HTTP quoted-string. Characters that a
// quoted-string cannot carry at all (controls, non-ASCII) become '?'.
func quote(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
