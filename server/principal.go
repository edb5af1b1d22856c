package server

import (
	"context"
	"errors"

	"github.com/re-factor/resources/auth"
)

type principalKey struct{}

func withPrincipal(ctx context.Context, p auth.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// errNoPrincipal means a handler ran without authentication: authenticate
// checks every operation whose security asks for a token, so this is a
// wiring bug, answered 500.
var errNoPrincipal = errors.New("server: handler reached without an authenticated principal")

// principalOf returns who is calling; its account is the tenant of every
// query.
func principalOf(ctx context.Context) (auth.Principal, error) {
	p, ok := ctx.Value(principalKey{}).(auth.Principal)
	if !ok || p.AccountID == "" {
		return auth.Principal{}, errNoPrincipal
	}
	return p, nil
}

// accountOf returns the authenticated account.
func accountOf(ctx context.Context) (string, error) {
	p, err := principalOf(ctx)
	return p.AccountID, err
}
