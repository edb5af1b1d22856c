package validation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"
)

// passesFast reports whether the parameters of c's bodiless request pass
// kin-openapi's OpenAPI 3.0 schema validator, which applies each
// parameter's schema as it is. Both validators apply the same document with
// the same options and string formats, and for schemas without 2020-12
// keywords (fastPathable checks the parameters have none) kin-openapi itself
// falls back from one to the other. A request the fast path refuses goes to
// the 2020-12 validator, whose answer, error message included, stands.
func (v *Validator) passesFast(c echo.Context, op *Operation) bool {
	params := make(map[string]string, len(c.ParamNames()))
	for i, name := range c.ParamNames() {
		value := c.ParamValues()[i]
		if unescaped, err := url.PathUnescape(value); err == nil { // as the middleware's router
			value = unescaped
		}
		params[name] = value
	}
	opts := v.opts
	opts.ExcludeRequestBody = true
	return openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
		Request: c.Request(), PathParams: params, Route: op.fast, Options: &opts,
	}) == nil
}

// passesFastWithBody reports whether c's request, body included, passes
// the fast path. It reads the body and puts back what it read, with the
// reader's error if there was one, for the validator after it.
func (v *Validator) passesFastWithBody(c echo.Context, op *Operation) bool {
	r := c.Request()
	if r.Body == nil {
		return false
	}
	doc, err := io.ReadAll(r.Body)
	if err != nil {
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(doc), failedReader{err}))
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(doc))
	return v.passesFast(c, op) && v.bodyPassesFast(r.Context(), r, op, doc)
}

// failedReader fails every read with its error.
type failedReader struct{ err error }

func (r failedReader) Read([]byte) (int, error) { return 0, r.err }

// bodyPassesFast reports whether doc, a body of op's, passes the OpenAPI
// 3.0 schema validator; what it refuses goes to Body's 2020-12 validator.
func (v *Validator) bodyPassesFast(ctx context.Context, req *http.Request, op *Operation, doc []byte) bool {
	in := &openapi3filter.RequestValidationInput{Request: withBody(req, doc), Route: op.fast, Options: &v.opts}
	return openapi3filter.ValidateRequestBody(ctx, in, op.fast.Operation.RequestBody.Value) == nil
}

// bodyFastPathable reports whether every schema of a request body takes
// the fast path: none uses a JSON Schema 2020-12 keyword.
func bodyFastPathable(body *openapi3.RequestBody) bool {
	for _, mt := range body.Content {
		if mt.Schema != nil && jsonSchema2020Keyword(mt.Schema) != "" {
			return false
		}
	}
	return true
}

// fastPathable refuses a document with a parameter whose schema uses a JSON
// Schema 2020-12 keyword the 3.0 validator does not apply.
func fastPathable(doc *openapi3.T) error {
	for path, item := range doc.Paths.Map() {
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
