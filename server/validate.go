package server

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/re-factor/resources/gen"
)

// stringFormats checks the formats openapi.yaml uses that kin-openapi
// leaves unchecked unless told how (it checks date-time itself). Every
// value the spec's patterns accept passes them; a client validator without
// them accepts and refuses exactly the same requests
// (TestSpecValidIffAccepted).
var stringFormats = map[string]openapi3.StringFormatValidator{
	"uuid": openapi3.NewRegexpFormatValidator(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`),
	"uri":  openapi3.NewCallbackValidator(checkURI),
}

// checkURI accepts an absolute URI in RFC 3986's characters: a scheme,
// then unreserved, reserved and well-formed percent-escaped characters only.
func checkURI(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return errors.New("not an absolute URI")
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return errors.New("bad percent-escape in URI")
			}
			i += 2
		case !isURIChar(c):
			return fmt.Errorf("URI contains %q", c)
		}
	}
	return nil
}

func isURIChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("-._~:/?#[]@!$&'()*+,;=", c) >= 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// validatorSpec is the embedded spec as the request validator uses it, and
// the string formats it needs. It is the same document with two changes
// that keep its rules and make them cheaper to apply:
//   - The DataURL pattern is gone: the create handler applies its rule while
//     it streams the content (upload.Decode); Go's regexp takes seconds on a
//     25 MiB data URL.
//   - Every other pattern is checked as a format whose regexp is compiled
//     once, and descriptions and examples are dropped: kin-openapi's JSON
//     Schema 2020-12 validator encodes and compiles the schema afresh for
//     every value it validates, patterns and prose included, which made a
//     create cost three times as much.
func validatorSpec() (*openapi3.T, map[string]openapi3.StringFormatValidator, error) {
	spec, err := gen.GetSpec()
	if err != nil {
		return nil, nil, err
	}
	dataURL := spec.Components.Schemas["DataURL"]
	if dataURL == nil || dataURL.Value == nil || dataURL.Value.Pattern == "" {
		return nil, nil, errors.New("openapi.yaml has no DataURL schema with a pattern")
	}
	dataURL.Value.Pattern = ""
	formats := maps.Clone(stringFormats)
	for _, s := range requestSchemas(spec) {
		s.Description, s.Examples = "", nil
		if s.Pattern == "" {
			continue
		}
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			return nil, nil, fmt.Errorf("pattern %q: %w", s.Pattern, err)
		}
		format := formats[s.Format]
		if format == nil {
			format = openapi3.SchemaStringFormats[s.Format]
		}
		name := fmt.Sprintf("%s pattern %d", s.Format, len(formats))
		minLen, maxLen := s.MinLength, s.MaxLength
		formats[name] = openapi3.NewCallbackValidator(func(v string) error {
			// A format failure hides the schema's other keywords: leave a
			// value of the wrong length to minLength and maxLength, which
			// say what is wrong with it ("must not be empty").
			if n := uint64(utf8.RuneCountInString(v)); n < minLen || maxLen != nil && n > *maxLen {
				return nil
			}
			if format != nil {
				if err := format.Validate(v); err != nil {
					return err
				}
			}
			if !re.MatchString(v) {
				return errors.New("does not match the pattern")
			}
			return nil
		})
		s.Format, s.Pattern = name, ""
	}
	return spec, formats, nil
}

// requestSchemas returns every schema of spec a request is validated
// against, the parameters' and the request bodies' with what they hold,
// and makes the references to them inline.
func requestSchemas(spec *openapi3.T) []*openapi3.Schema {
	seen := map[*openapi3.Schema]bool{}
	var out []*openapi3.Schema
	var walk func(*openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil {
			return
		}
		ref.Ref = "" // inline: kin-openapi copies each referenced schema per request
		if seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		out = append(out, s)
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.Items)
		for _, sub := range slices.Concat(s.AllOf, s.AnyOf, s.OneOf) {
			walk(sub)
		}
	}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			for _, p := range slices.Concat(item.Parameters, op.Parameters) {
				walk(p.Value.Schema)
			}
			if op.RequestBody != nil {
				for _, mt := range op.RequestBody.Value.Content {
					walk(mt.Schema)
				}
			}
		}
	}
	return out
}

// singleQueryValues refuses a query parameter of the operation given more
// than once, which OpenAPI cannot forbid: every one of ours is a single
// value, and the generated binder would refuse it in Go's words. It runs
// after the validator, so a stranger learns nothing before authenticating.
func singleQueryValues(spec *openapi3.T) echo.MiddlewareFunc {
	declared := queryParams(spec)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			op := declared[c.Request().Method+" "+c.Path()]
			for name, values := range c.QueryParams() { // parsed once, for the binder too
				if len(values) > 1 && op[name] {
					return badRequest(fmt.Sprintf(
						"query parameter %q: must be given once (several tags go in one value: tags=a,b)", name))
				}
			}
			return next(c)
		}
	}
}

// queryParams maps "METHOD /echo/:route" to the names of the operation's
// query parameters.
func queryParams(spec *openapi3.T) map[string]map[string]bool {
	ops := map[string]map[string]bool{}
	for path, item := range spec.Paths.Map() {
		route := pathParam.ReplaceAllString(path, ":$1")
		for method, op := range item.Operations() {
			names := map[string]bool{}
			for _, p := range slices.Concat(item.Parameters, op.Parameters) {
				if p.Value != nil && p.Value.In == openapi3.ParameterInQuery {
					names[p.Value.Name] = true
				}
			}
			ops[method+" "+route] = names
		}
	}
	return ops
}

// pathParam is a {name} of an OpenAPI path, which echo writes :name.
var pathParam = regexp.MustCompile(`\{([^}]+)\}`)
