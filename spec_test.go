package resources_test

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/re-factor/resources"
)

// loadSpec reads openapi.yaml, the source of truth the rules here must
// agree with.
func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func schema(t *testing.T, doc *openapi3.T, name string) *openapi3.Schema {
	t.Helper()
	ref := doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		t.Fatalf("openapi.yaml has no schema %s", name)
	}
	return ref.Value
}

// TestSpecLimits: every limit the domain applies is the number
// openapi.yaml states.
func TestSpecLimits(t *testing.T) {
	doc := loadSpec(t)
	maxLength := func(name string) int {
		if s := schema(t, doc, name); s.MaxLength != nil {
			return int(*s.MaxLength)
		}
		return -1
	}
	maxItems := func(s *openapi3.Schema) int {
		if s.MaxItems != nil {
			return int(*s.MaxItems)
		}
		return -1
	}
	var pageSizeMax float64 = -1
	for _, p := range doc.Paths.Value("/v1/resources").Get.Parameters {
		if p.Value.Name == "page_size" && p.Value.Schema.Value.Max != nil {
			pageSizeMax = *p.Value.Schema.Value.Max
		}
	}
	var enum []string
	for _, v := range schema(t, doc, "ExternalStorageType").Enum {
		enum = append(enum, fmt.Sprint(v))
	}
	metadata := schema(t, doc, "Metadata").Description
	for _, tt := range []struct {
		what      string
		spec, our any
	}{
		{"ResourceName maxLength", maxLength("ResourceName"), resources.MaxNameChars},
		{"DirectoryPath maxLength", maxLength("DirectoryPath"), resources.MaxDirectoryPathChars},
		{"Tag maxLength", maxLength("Tag"), resources.MaxTagChars},
		{"ResourceCreate.tags maxItems", maxItems(schema(t, doc, "ResourceCreate").Properties["tags"].Value), resources.MaxTags},
		{"page_size maximum", int(pageSizeMax), resources.MaxPageSize},
		{"ExternalStorageType enum", strings.Join(enum, ","), strings.Join(resources.ExternalStorageTypes, ",")},
		{"Metadata bytes", strings.Contains(metadata, fmt.Sprintf("at most %s bytes", thousands(resources.MaxMetadataBytes))), true},
		{"Metadata depth", strings.Contains(metadata, fmt.Sprintf("at\nmost %s levels", thousands(resources.MaxMetadataDepth))) ||
			strings.Contains(metadata, fmt.Sprintf("at most %s levels", thousands(resources.MaxMetadataDepth))), true},
	} {
		if tt.spec != tt.our {
			t.Errorf("%s: openapi.yaml says %v, the domain %v", tt.what, tt.spec, tt.our)
		}
	}
}

// thousands writes n with commas, as the spec's prose does: 65,536.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// TestSpecPatternsAreTheRules: on edge cases and random strings built from
// the characters each rule is about, a string keeps a schema's length
// bounds and pattern exactly when the domain's rule accepts it.
func TestSpecPatternsAreTheRules(t *testing.T) {
	doc := loadSpec(t)
	storedTag := func(s string) error {
		r := validResource()
		r.Tags = []string{s}
		return r.Validate()
	}
	inputTag := func(s string) error {
		_, err := resources.NormalizeTags([]string{s})
		return err
	}
	for _, tt := range []struct {
		schema string
		rule   func(string) error
	}{
		{"ResourceName", resources.ValidateName},
		{"DirectoryPath", resources.ValidateDirectoryPath},
		{"Tag", storedTag},
		{"TagInput", inputTag},
	} {
		t.Run(tt.schema, func(t *testing.T) {
			s := schema(t, doc, tt.schema)
			re := regexp.MustCompile(s.Pattern)
			keeps := func(v string) bool {
				n := uint64(utf8.RuneCountInString(v))
				return n >= s.MinLength && (s.MaxLength == nil || n <= *s.MaxLength) && re.MatchString(v)
			}
			for _, v := range samples(s) {
				if spec, rule := keeps(v), tt.rule(v) == nil; spec != rule {
					t.Errorf("%q: openapi.yaml's %s accepts it: %v; the domain's rule: %v", v, tt.schema, spec, rule)
				}
			}
		})
	}
}

// samples returns strings around a schema's limits: fixed edge cases, and
// random ones over an alphabet of the characters the rules single out,
// near the schema's maximum length too.
func samples(s *openapi3.Schema) []string {
	alphabet := []string{"a", "Z", "0", "é", "ß", "語", "𝄞", "/", ".", "..", ",", " ", "\t", "\n", "\x00", "\x1f",
		"\x7f", "\u0085", "\u009f", "\u00a0", "\u2028", "\u3000", "_", "-", "%"}
	out := []string{"", "a", "/", "//", "/a", "/a/", "/.", "/..", "/...", "/a/./b", "/a/../b", "/a/.b", "/a/b.",
		" a", "a ", "\u00a0a", "a\u3000", "a,b", ",", "a\x00", "a\u0085", "a\u0085b", "a b"}
	limit := 300
	if s.MaxLength != nil {
		limit = int(*s.MaxLength)
		for _, n := range []int{limit - 1, limit, limit + 1} {
			out = append(out, strings.Repeat("é", n), "/"+strings.Repeat("é", n-1), strings.Repeat("a", n))
		}
	}
	rng := rand.New(rand.NewPCG(20261206, 17))
	for range 3000 {
		n := rng.IntN(12)
		if rng.IntN(10) == 0 {
			n = limit - 3 + rng.IntN(6)
		}
		var b strings.Builder
		for range max(n, 0) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		out = append(out, b.String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}
