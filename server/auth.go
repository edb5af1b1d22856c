package server

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/re-factor/resources/auth"
	"github.com/re-factor/resources/server/validation"
)

// authenticate verifies the bearer token of requests to operations whose
// security asks for one, and checks the scope the method needs, before
// anything reads the body: a stranger costs the server a header. The
// principal reaches the handler through the request's context.
func (s *Server) authenticate(v *validation.Validator) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			op, ok := v.Operation(c)
			if !ok || !op.NeedsToken {
				return next(c)
			}
			r := c.Request()
			if token, ok := uploadLinkToken(r.Header.Get(echo.HeaderAuthorization)); ok {
				return s.authenticateUploadLink(c, op, token, next)
			}
			p, err := s.verifier.Verify(r.Context(), r.Header.Get(echo.HeaderAuthorization))
			if err == nil {
				err = requireScope(p, r.Method, c.Path())
			}
			if err != nil {
				return &echo.HTTPError{Code: statusOf(err), Message: err.Error(), Internal: err}
			}
			c.SetRequest(r.WithContext(withPrincipal(r.Context(), p)))
			return next(c)
		}
	}
}

// requireScope maps the contract's rule: reads need resources:read, every
// other method resources:write. Every request of a resumable upload
// (route, its echo path, under /v1/uploads) is part of a write: its HEAD
// too.
func requireScope(p auth.Principal, method, route string) error {
	scope := "resources:write"
	if (method == http.MethodGet || method == http.MethodHead) && !strings.HasPrefix(route, uploadsPathPrefix) {
		scope = "resources:read"
	}
	if !p.HasScope(scope) {
		return fmt.Errorf("%w: token lacks the %s scope", auth.ErrForbidden, scope)
	}
	return nil
}
