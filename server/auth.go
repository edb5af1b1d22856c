package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"

	"github.com/re-factor/resources/auth"
)

// operation is what the middleware before the request validator needs to
// know of one operation of the spec.
type operation struct {
	route      *routers.Route
	needsToken bool // its security asks for the bearer token
}

// operations are the spec's operations by method and echo route path
// ("GET /v1/resource/:id"), so a middleware finds the operation of a
// request from echo's routing, without routing again.
type operations map[string]operation

// newOperations reads every operation of spec and what its security (its
// own, else the document's) asks for. It fails on a requirement this server
// cannot check: only the HTTP bearer scheme is verified, and a token is
// never optional.
func newOperations(spec *openapi3.T) (operations, error) {
	ops := operations{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			reqs := spec.Security
			if op.Security != nil {
				reqs = *op.Security
			}
			needs, err := needsBearer(spec, reqs)
			if err != nil {
				return nil, fmt.Errorf("operation %s: %w", op.OperationID, err)
			}
			route := &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op}
			ops[method+" "+echoPath(path)] = operation{route: route, needsToken: needs}
		}
	}
	return ops, nil
}

func needsBearer(spec *openapi3.T, reqs openapi3.SecurityRequirements) (bool, error) {
	for _, req := range reqs {
		if len(req) == 0 {
			return false, errors.New("an empty security requirement (optional authentication) is not supported")
		}
		for name := range req {
			s := spec.Components.SecuritySchemes[name]
			if s == nil || s.Value == nil || s.Value.Type != "http" || !strings.EqualFold(s.Value.Scheme, "bearer") {
				return false, fmt.Errorf("security scheme %q is not HTTP bearer, the one scheme this server verifies", name)
			}
		}
	}
	return len(reqs) > 0, nil
}

// echoPath turns an OpenAPI path template into echo's: {id} becomes :id.
func echoPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if name, ok := strings.CutPrefix(s, "{"); ok && strings.HasSuffix(name, "}") {
			segs[i] = ":" + strings.TrimSuffix(name, "}")
		}
	}
	return strings.Join(segs, "/")
}

// of returns the operation of c's route; ok is false for routes the spec
// does not describe (and for requests no route matched).
func (ops operations) of(c echo.Context) (op operation, ok bool) {
	op, ok = ops[c.Request().Method+" "+c.Path()]
	return op, ok
}

// byID returns the route of the operation named id. The embedded spec
// carries the Go names oapi-codegen gives operations (CreateResource for
// createResource), so case does not count.
func (ops operations) byID(id string) (*routers.Route, error) {
	for _, op := range ops {
		if strings.EqualFold(op.route.Operation.OperationID, id) {
			return op.route, nil
		}
	}
	return nil, fmt.Errorf("server: the spec has no operation %s", id)
}

// authenticate verifies the bearer token of requests to operations whose
// security asks for one, and checks the scope the method needs, before
// anything reads the body: a stranger costs the server a header. The
// principal reaches the handler through the request's context.
func (s *Server) authenticate(ops operations) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if op, ok := ops.of(c); !ok || !op.needsToken {
				return next(c)
			}
			r := c.Request()
			p, err := s.verifier.Verify(r.Context(), r.Header.Get(echo.HeaderAuthorization))
			if err == nil {
				err = requireScope(p, r.Method)
			}
			if err != nil {
				return &echo.HTTPError{Code: statusOf(err), Message: err.Error(), Internal: err}
			}
			c.SetRequest(r.WithContext(withPrincipal(r.Context(), p)))
			return next(c)
		}
	}
}

// withoutSecurity drops every security requirement from spec, for the
// request validator: authenticate checks them.
func withoutSecurity(spec *openapi3.T) {
	spec.Security = nil
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			op.Security = &openapi3.SecurityRequirements{}
		}
	}
}

// requireScope maps the contract's rule: reads need resources:read, every
// other method resources:write.
func requireScope(p auth.Principal, method string) error {
	scope := "resources:write"
	if method == http.MethodGet || method == http.MethodHead {
		scope = "resources:read"
	}
	if !p.HasScope(scope) {
		return fmt.Errorf("%w: token lacks the %s scope", auth.ErrForbidden, scope)
	}
	return nil
}
