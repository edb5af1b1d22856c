package server

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/labstack/echo/v4"
)

// quickCheck passes the parameters of bodiless requests with kin-openapi's
// OpenAPI 3.0 schema validator, which applies each parameter's schema as it
// is. On a 3.1 document kin-openapi v0.153.0 validates with its JSON Schema
// 2020-12 validator instead, which serialises and compiles every parameter's
// schema again for every value (upstream's fix, getkin/kin-openapi#1186, is
// unreleased): half the server's CPU on a list request. Both apply the same
// document with the same options and string formats, and for schemas
// without 2020-12 keywords (TestQuickCheckAgrees asserts the parameters
// have none) kin-openapi itself falls back from one to the other. A request
// the quick check refuses goes through the 2020-12 validator, whose answer,
// error message included, stands.
type quickCheck struct {
	router routers.Router
	opts   openapi3filter.Options
}

// newQuickCheck reads spec, the validator's document, as OpenAPI 3.0.
func newQuickCheck(spec *openapi3.T, opts openapi3filter.Options) (*quickCheck, error) {
	if err := quickCheckable(spec); err != nil {
		return nil, err
	}
	as30 := *spec // the same paths, operations and schemas
	as30.OpenAPI = "3.0.3"
	as30.Servers = nil // as the middleware's DoNotValidateServers
	router, err := gorillamux.NewRouter(&as30)
	if err != nil {
		return nil, err
	}
	opts.ExcludeRequestBody = true
	return &quickCheck{router: router, opts: opts}, nil
}

// passes reports whether c's request is to an operation without a request
// body and its parameters pass the 3.0 validator.
func (q *quickCheck) passes(c echo.Context) bool {
	r := c.Request()
	route, params, err := q.router.FindRoute(r)
	if err != nil || route.Operation.RequestBody != nil {
		return false
	}
	for k, v := range params { // as the middleware: gorillamux leaves them encoded
		if unescaped, err := url.PathUnescape(v); err == nil {
			params[k] = unescaped
		}
	}
	return openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
		Request: r, PathParams: params, Route: route, Options: &q.opts,
	}) == nil
}

// quickCheckable refuses a spec with a parameter whose schema uses a JSON
// Schema 2020-12 keyword the 3.0 validator does not apply.
func quickCheckable(spec *openapi3.T) error {
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			for _, p := range append(item.Parameters, op.Parameters...) {
				if p.Value.Schema == nil {
					continue
				}
				if kw := jsonSchema2020Keyword(p.Value.Schema); kw != "" {
					return fmt.Errorf("%s %s: parameter %q uses %s, which only the JSON Schema 2020-12 validator applies",
						method, path, p.Value.Name, kw)
				}
			}
		}
	}
	return nil
}

// jsonSchema2020Keyword names a keyword of ref's schema, or of a schema
// within it, that OpenAPI 3.0's schema object lacks; "" when there is none.
func jsonSchema2020Keyword(ref *openapi3.SchemaRef) string {
	found := ""
	_ = ref.WalkSubtree(func(_ string, r *openapi3.SchemaRef) error {
		s := r.Value
		switch {
		case s.Const != nil:
			found = "const"
		case len(s.PrefixItems) != 0:
			found = "prefixItems"
		case s.Contains != nil:
			found = "contains"
		case len(s.PatternProperties) != 0:
			found = "patternProperties"
		case len(s.DependentSchemas) != 0:
			found = "dependentSchemas"
		case len(s.DependentRequired) != 0:
			found = "dependentRequired"
		case s.PropertyNames != nil:
			found = "propertyNames"
		case s.UnevaluatedItems.Has != nil || s.UnevaluatedItems.Schema != nil:
			found = "unevaluatedItems"
		case s.UnevaluatedProperties.Has != nil || s.UnevaluatedProperties.Schema != nil:
			found = "unevaluatedProperties"
		case s.If != nil || s.Then != nil || s.Else != nil:
			found = "if/then/else"
		case len(s.Defs) != 0:
			found = "$defs"
		case s.ContentSchema != nil:
			found = "contentSchema"
		case s.Nullable || s.Type.Includes(openapi3.TypeNull):
			found = "null" // the validators read it differently
		default:
			return nil
		}
		return errStopWalk
	})
	return found
}

var errStopWalk = errors.New("stop")
