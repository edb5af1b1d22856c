package auth

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
)

func TestChallenge(t *testing.T) {
	v := newHMACVerifier(t, Config{})
	verifyErr := func(authorization string) error {
		_, err := v.Verify(context.Background(), authorization)
		if err == nil {
			t.Fatalf("Verify(%q) succeeded", authorization)
		}
		return err
	}
	noAccount := signJWS(t, jwa.HS256(), testSecret, "", claims(map[string]any{"account_id": nil}))
	expired := invalidToken("token is expired")

	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, `Bearer realm="re-factor"`},
		{"missing header", verifyErr(""), `Bearer realm="re-factor"`},
		{"other scheme", verifyErr("Basic dXNlcjpwYXNz"), `Bearer realm="re-factor"`},
		{"malformed token", verifyErr("Bearer abc"),
			`Bearer realm="re-factor", error="invalid_token", error_description="token must have three dot-separated parts"`},
		{"empty token", verifyErr("Bearer "),
			`Bearer realm="re-factor", error="invalid_token", error_description="bearer token is empty"`},
		{"expired", expired,
			`Bearer realm="re-factor", error="invalid_token", error_description="token is expired"`},
		{"wrapped", fmt.Errorf("middleware: %w", expired),
			`Bearer realm="re-factor", error="invalid_token", error_description="token is expired"`},
		{"forbidden", verifyErr("Bearer " + noAccount), `Bearer realm="re-factor"`},
		{"unrelated error", errors.New(`boom "x"`), `Bearer realm="re-factor"`},
		{"quotes escaped", invalidToken(`bad "kid" \ here` + "\r\n\x00é"),
			`Bearer realm="re-factor", error="invalid_token", error_description="bad \"kid\" \\ here????"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Challenge(tt.err); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
