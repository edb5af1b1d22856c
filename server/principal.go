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

// errNoPrincipal means a handler ran without authentication: the validator
// authenticates every /v1 operation, so this is a wiring bug, answered 500.
var errNoPrincipal = errors.New("server: handler reached without an authenticated principal")

// accountOf returns the authenticated account, the tenant of every query.
func accountOf(ctx context.Context) (string, error) {
	p, ok := ctx.Value(principalKey{}).(auth.Principal)
	if !ok || p.AccountID == "" {
		return "", errNoPrincipal
	}
	return p.AccountID, nil
}
