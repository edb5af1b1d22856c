package server_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"testing"

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
