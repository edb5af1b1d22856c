package server_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"

	"github.com/re-factor/resources/gen"
)

// TestServedSpec checks that both served forms are the embedded spec, need
// no token, and load as OpenAPI documents.
func TestServedSpec(t *testing.T) {
	e := newEnv(t, "sqlite")
	want, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, contentType string
		decode            func([]byte, any) error
		get               func(string) response
	}{
		// kin-openapi reads a YAML body as a document, not the string the
		// spec declares, so only the JSON form is checked against it.
		{"/openapi.yaml", "application/yaml", yaml.Unmarshal, e.getRaw},
		{"/openapi.json", "application/json", json.Unmarshal, func(p string) response { return e.get(p, "") }},
	} {
		t.Run(tc.path, func(t *testing.T) {
			e.t = t
			r := tc.get(tc.path)
			if r.status != http.StatusOK {
				t.Fatalf("status = %d, want 200: %s", r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != tc.contentType {
				t.Errorf("Content-Type = %q, want %q", ct, tc.contentType)
			}
			var raw map[string]any
			if err := tc.decode(r.body, &raw); err != nil {
				t.Fatalf("decode: %v", err)
			}
			doc, err := openapi3.NewLoader().LoadFromData(r.body)
			if err != nil {
				t.Fatalf("load served spec: %v", err)
			}
			if got, want := slices.Sorted(maps.Keys(doc.Paths.Map())), slices.Sorted(maps.Keys(want.Paths.Map())); !slices.Equal(got, want) {
				t.Errorf("paths = %v, want %v", got, want)
			}
			if doc.Info.Title != want.Info.Title || doc.OpenAPI != want.OpenAPI {
				t.Errorf("served %q %s, want %q %s", doc.Info.Title, doc.OpenAPI, want.Info.Title, want.OpenAPI)
			}
		})
	}
}

// TestSpecExamples checks that every example in openapi.yaml, which Prism's
// mock serves and the reference page shows, is valid for its schema.
func TestSpecExamples(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromFile("../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		t.Error(err)
	}
}

// TestSpecPatterns checks every pattern of openapi.yaml: it compiles in
// Go's regexp (the request validator's engine), is ASCII, since Prism's
// proxy fails on a violation message holding a character above U+00FF,
// and has an x-pattern-rule, which words it in 400 messages.
func TestSpecPatterns(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromFile("../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[*openapi3.Schema]bool{}
	var check func(where string, s *openapi3.SchemaRef)
	check = func(where string, ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		if p := s.Pattern; p != "" {
			if _, err := regexp.Compile(p); err != nil {
				t.Errorf("%s: pattern does not compile: %v", where, err)
			}
			if strings.ContainsFunc(p, func(r rune) bool { return r > unicode.MaxASCII }) {
				t.Errorf("%s: pattern holds non-ASCII characters; name them with escapes or \\p{...}", where)
			}
			if rule, _ := s.Extensions["x-pattern-rule"].(string); rule == "" {
				t.Errorf("%s: pattern without an x-pattern-rule", where)
			}
		}
		for name, p := range s.Properties {
			check(where+"."+name, p)
		}
		check(where+"[]", s.Items)
		for _, sub := range slices.Concat(s.AllOf, s.AnyOf, s.OneOf) {
			check(where, sub)
		}
	}
	for name, s := range doc.Components.Schemas {
		check(name, s)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for _, p := range slices.Concat(item.Parameters, op.Parameters) {
				check(method+" "+path+" "+p.Value.Name, p.Value.Schema)
			}
			for status, r := range op.Responses.Map() {
				for _, mt := range r.Value.Content {
					check(method+" "+path+" "+status, mt.Schema)
				}
			}
		}
	}
}
