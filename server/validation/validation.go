// Package validation checks requests against openapi.yaml, the server's
// source of truth. It has one way in: a Validator, built once from the
// embedded spec, whose Middleware checks every request of an operation the
// spec describes (parameters always; bodies too unless the operation's
// handler streams its body, which it then checks with Body), and whose
// Operation tells the middleware before it (size limits, authentication)
// what each operation asks for. Describe puts a failure in a client's words.
//
// Bodies and parameters go to kin-openapi through oapi-codegen's echo
// middleware. Parameters and bodies first try a fast path (fastpath.go),
// in the middleware and in Body, which applies the same document with
// kin-openapi's OpenAPI 3.0 validator: on a 3.1 document kin-openapi
// v0.153.0 serialises and compiles each schema again for every value
// (getkin/kin-openapi#1186). When upstream fixes that, fastpath.go goes and
// nothing else changes.
package validation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"
	oapimiddleware "github.com/oapi-codegen/echo-middleware"

	"github.com/re-factor/resources/gen"
)

// Config names what the validator leaves to the handlers.
type Config struct {
	// Streamed are the ids of the operations whose handlers read their
	// bodies as streams: the middleware checks their parameters only, and
	// the handler calls Body with what it kept of the body.
	Streamed []string
	// HandlerPatterns are the schemas whose patterns a streamed handler
	// applies itself as the data arrives (Go's regexp takes seconds on a
	// 25 MiB data URL); the validator drops them. Rule gives their words.
	HandlerPatterns []string
}

// Operation is what the middleware around the validator needs to know of
// one operation of the spec.
type Operation struct {
	ID string
	// NeedsToken is whether its security asks for the bearer token.
	NeedsToken bool
	// Streamed is whether its handler reads the body as a stream.
	Streamed bool
	// BodyTypes are the media types its request body may have; none when
	// it takes no body.
	BodyTypes []string
	// BodyRequired is whether a request must have a body.
	BodyRequired bool

	route *routers.Route // on the validator's document (3.1)
	fast  *routers.Route // the same operation read as OpenAPI 3.0
	// fastBody is whether its body schemas use no 2020-12 keyword, so
	// that its bodies may try the fast path first.
	fastBody bool
	query    map[string]bool
}

// Accepts reports whether a request body declared as contentType is one
// the operation takes.
func (op *Operation) Accepts(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	for _, t := range op.BodyTypes {
		if t == mt {
			return true
		}
	}
	return false
}

// Validator checks requests against the spec.
type Validator struct {
	doc        *openapi3.T
	ops        map[string]*Operation // by "METHOD /echo/:route"
	opts       openapi3filter.Options
	rules      map[string]string // x-pattern-rule of the HandlerPatterns
	whole      echo.MiddlewareFunc
	parameters echo.MiddlewareFunc
}

// New reads the embedded spec. It fails on a spec this server cannot
// serve: a security requirement other than the HTTP bearer token, a
// streamed operation without a body, a handler's pattern that is missing,
// a parameter schema the fast path cannot apply.
func New(cfg Config) (*Validator, error) {
	doc, err := gen.GetSpec()
	if err != nil {
		return nil, fmt.Errorf("validation: load embedded spec: %w", err)
	}
	v := &Validator{doc: doc, rules: map[string]string{}}
	for _, name := range cfg.HandlerPatterns {
		if v.rules[name], err = dropPattern(doc, name); err != nil {
			return nil, fmt.Errorf("validation: %w", err)
		}
	}
	formats, err := patternsAsFormats(doc)
	if err != nil {
		return nil, fmt.Errorf("validation: %w", err)
	}
	if err := fastPathable(doc); err != nil {
		return nil, fmt.Errorf("validation: %w", err)
	}
	v.opts = options(formats)
	if v.ops, err = operations(doc, cfg.Streamed); err != nil {
		return nil, fmt.Errorf("validation: %w", err)
	}
	// From here on the document has no security: the authentication before
	// the validator checks it (Operation.NeedsToken) without reading the
	// body, where kin-openapi's own check would read it whole first.
	withoutSecurity(doc)
	v.whole = v.middleware(false)
	v.parameters = v.middleware(true)
	return v, nil
}

// Operation returns the operation of c's route, a HEAD's being its GET's;
// ok is false for routes the spec does not describe (and for requests no
// route matched).
func (v *Validator) Operation(c echo.Context) (op *Operation, ok bool) {
	method := c.Request().Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	op, ok = v.ops[method+" "+c.Path()]
	return op, ok
}

// Rule returns the words of the pattern of a schema named in
// Config.HandlerPatterns: what a handler says when the data breaks it.
func (v *Validator) Rule(schema string) string { return v.rules[schema] }

// Middleware checks each request of an operation the spec describes, and
// lets others through. For a streamed operation it checks the parameters
// alone; for others it tries the fast path first; a HEAD it
// checks as the GET it stands for, and hands on as the HEAD it is. Then it
// refuses a query parameter given more than once, which no schema can.
func (v *Validator) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		checked := func(c echo.Context) error {
			if head, ok := c.Get(headKey).(*http.Request); ok {
				c.SetRequest(head.WithContext(c.Request().Context()))
			}
			if op, ok := v.Operation(c); ok {
				if err := singleValues(c, op); err != nil {
					return err
				}
			}
			return next(c)
		}
		whole, parameters := v.whole(checked), v.parameters(checked)
		return func(c echo.Context) error {
			op, ok := v.Operation(c)
			if !ok {
				return next(c)
			}
			if r := c.Request(); r.Method == http.MethodHead {
				get := r.WithContext(r.Context())
				get.Method = http.MethodGet
				c.Set(headKey, r)
				c.SetRequest(get)
			}
			switch {
			case op.Streamed:
				return parameters(c)
			case op.route.Operation.RequestBody == nil && v.passesFast(c, op):
				return checked(c)
			case op.fastBody && v.passesFastWithBody(c, op):
				return checked(c)
			}
			return whole(c)
		}
	}
}

// headKey holds, in echo's context, a HEAD request while it is checked as
// a GET.
const headKey = "validation.head"

// Body checks doc, what a streamed operation's handler kept of the body of
// req, against the operation's schema for it, with the middleware's
// options, so that its messages read the same.
func (v *Validator) Body(ctx context.Context, req *http.Request, op *Operation, doc []byte) error {
	if op.fastBody && v.bodyPassesFast(ctx, req, op, doc) {
		return nil
	}
	in := &openapi3filter.RequestValidationInput{Request: withBody(req, doc), Route: op.route, Options: &v.opts}
	if err := openapi3filter.ValidateRequestBody(ctx, in, op.route.Operation.RequestBody.Value); err != nil {
		return &echo.HTTPError{Code: http.StatusBadRequest, Message: "invalid request", Internal: err}
	}
	return nil
}

// withBody is a copy of req whose body is doc.
func withBody(req *http.Request, doc []byte) *http.Request {
	r := req.WithContext(req.Context())
	r.Body, r.ContentLength, r.GetBody = http.NoBody, 0, nil
	if len(doc) > 0 {
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(doc)), int64(len(doc))
	}
	return r
}

// middleware is oapi-codegen's echo middleware over the validator's
// document; withoutBody leaves bodies to Body. The routes it sees are
// those of the spec: Middleware lets every other route through first.
func (v *Validator) middleware(withoutBody bool) echo.MiddlewareFunc {
	opts := v.opts
	opts.ExcludeRequestBody = withoutBody
	return oapimiddleware.OapiRequestValidatorWithOptions(v.doc, &oapimiddleware.Options{
		DoNotValidateServers: true,
		Options:              opts,
		MultiErrorHandler:    firstError,
	})
}

// options are kin-openapi's options for every check against the spec:
// the middleware's, the fast path's and Body's.
func options(formats map[string]openapi3.StringFormatValidator) openapi3filter.Options {
	return openapi3filter.Options{
		// With MultiError each failure stays a RequestError naming its
		// parameter; without it the middleware flattens schema errors and
		// loses the name.
		MultiError: true,
		// The handlers fill in the spec's defaults for absent parameters
		// (TestHandlerDefaultsAreTheSpecs); kin-openapi's own would
		// re-parse and re-encode the query once per absent parameter.
		SkipSettingDefaults: true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			openapi3.WithStringFormatValidators(formats),
		},
	}
}

// firstError picks the error to report: an oversized body, else the first
// invalid parameter or body.
func firstError(me openapi3.MultiError) *echo.HTTPError {
	// A body cut off while streaming makes the validator's other checks
	// fail on the truncated request: they must not hide the 413.
	for _, err := range me {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &echo.HTTPError{Code: http.StatusRequestEntityTooLarge,
				Message: fmt.Sprintf("request body is larger than %d bytes", tooLarge.Limit)}
		}
	}
	return &echo.HTTPError{Code: http.StatusBadRequest, Message: "invalid request", Internal: me[0]}
}
