package validation

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
	"github.com/getkin/kin-openapi/routers"
)

// operations reads every operation of doc: its route, what its security
// (its own, else the document's) asks for, its body's media types and its
// query parameters. It fails on a requirement this server cannot check:
// only the HTTP bearer scheme is verified, and a token is never optional.
func operations(doc *openapi3.T, streamed []string) (map[string]*Operation, error) {
	as30 := *doc // the same paths, operations and schemas, read as 3.0 (fastpath.go)
	as30.OpenAPI = "3.0.3"
	ops, found := map[string]*Operation{}, 0
	for path, item := range doc.Paths.Map() {
		for method, o := range item.Operations() {
			reqs := doc.Security
			if o.Security != nil {
				reqs = *o.Security
			}
			needs, err := needsBearer(doc, reqs)
			if err != nil {
				return nil, fmt.Errorf("operation %s: %w", o.OperationID, err)
			}
			// The embedded spec carries the Go names oapi-codegen gives
			// operations (CreateResource for createResource): case does not
			// count.
			op := &Operation{ID: o.OperationID, NeedsToken: needs,
				Streamed: slices.ContainsFunc(streamed, func(id string) bool { return strings.EqualFold(id, o.OperationID) }),
				route:    &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: o},
				fast:     &routers.Route{Spec: &as30, Path: path, PathItem: item, Method: method, Operation: o},
				query:    map[string]bool{}}
			if o.RequestBody != nil {
				op.BodyTypes = slices.Sorted(maps.Keys(o.RequestBody.Value.Content))
				op.BodyRequired = o.RequestBody.Value.Required
				op.fastBody = bodyFastPathable(o.RequestBody.Value)
			}
			if op.Streamed && o.RequestBody == nil {
				return nil, fmt.Errorf("operation %s is streamed but has no request body", o.OperationID)
			}
			if op.Streamed {
				found++
			}
			for _, p := range slices.Concat(item.Parameters, o.Parameters) {
				if p.Value != nil && p.Value.In == openapi3.ParameterInQuery {
					op.query[p.Value.Name] = true
				}
			}
			ops[method+" "+echoPath(path)] = op
		}
	}
	if found != len(streamed) {
		return nil, fmt.Errorf("the spec lacks one of the streamed operations %q", streamed)
	}
	return ops, nil
}

func needsBearer(doc *openapi3.T, reqs openapi3.SecurityRequirements) (bool, error) {
	for _, req := range reqs {
		if len(req) == 0 {
			return false, errors.New("an empty security requirement (optional authentication) is not supported")
		}
		for name := range req {
			s := doc.Components.SecuritySchemes[name]
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

// withoutSecurity drops every security requirement from doc.
func withoutSecurity(doc *openapi3.T) {
	doc.Security = nil
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			op.Security = &openapi3.SecurityRequirements{}
		}
	}
}

// dropPattern removes the pattern of the schema name, which a handler
// applies itself, and returns its words (x-pattern-rule).
func dropPattern(doc *openapi3.T, name string) (string, error) {
	ref := doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil || ref.Value.Pattern == "" {
		return "", fmt.Errorf("openapi.yaml has no %s schema with a pattern", name)
	}
	rule, _ := ref.Value.Extensions["x-pattern-rule"].(string)
	ref.Value.Pattern = ""
	// The loader gives a reference to the component a copy of it, not the
	// component itself: the copies drop the pattern too.
	target := "#/components/schemas/" + name
	eachRequestSchema(doc, func(r *openapi3.SchemaRef, _ bool) {
		if r.Ref == target {
			r.Value.Pattern = ""
		}
	})
	return rule, nil
}

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

// patternsAsFormats makes doc cheaper to apply without changing its rules,
// and returns the string formats it then needs: every pattern of a request
// schema is checked as a format whose regexp is compiled once, and
// descriptions and examples are dropped. kin-openapi's JSON Schema 2020-12
// validator encodes and compiles the schema afresh for every value it
// validates, patterns and prose included, which made a create cost three
// times as much.
func patternsAsFormats(doc *openapi3.T) (map[string]openapi3.StringFormatValidator, error) {
	formats := maps.Clone(stringFormats)
	for _, s := range requestSchemas(doc) {
		s.Description, s.Examples = "", nil
		if s.Pattern == "" {
			continue
		}
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", s.Pattern, err)
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
	return formats, nil
}

// requestSchemas returns every schema of doc a request is validated
// against, the parameters' and the request bodies' with what they hold,
// and makes the references to them inline.
func requestSchemas(doc *openapi3.T) []*openapi3.Schema {
	var out []*openapi3.Schema
	eachRequestSchema(doc, func(ref *openapi3.SchemaRef, first bool) {
		ref.Ref = "" // inline: kin-openapi copies each referenced schema per request
		if first {
			out = append(out, ref.Value)
		}
	})
	return out
}

// eachRequestSchema calls fn with every reference to a schema a request is
// validated against; first is whether its schema was not met before.
func eachRequestSchema(doc *openapi3.T, fn func(ref *openapi3.SchemaRef, first bool)) {
	seen := map[*openapi3.Schema]bool{}
	var walk func(*openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil {
			return
		}
		s := ref.Value
		fn(ref, !seen[s])
		if seen[s] {
			return
		}
		seen[s] = true
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.Items)
		for _, sub := range slices.Concat(s.AllOf, s.AnyOf, s.OneOf) {
			walk(sub)
		}
	}
	for _, item := range doc.Paths.Map() {
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
}
