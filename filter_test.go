package resources_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/re-factor/resources"
)

func TestParseTagFilter(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , ,", nil},
		{"a", []string{"a"}},
		{" a , b,a,, c ", []string{"a", "b", "c"}},
		{"B,b", []string{"B", "b"}},
		{strings.Repeat("x", 100), []string{strings.Repeat("x", 100)}}, // not validated
	}
	for _, tt := range tests {
		if got := resources.ParseTagFilter(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("ParseTagFilter(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzParseTagFilter checks the pieces a filter yields, and that every tag
// a resource can carry can be filtered on: tags normalized from the input
// read back from their filter unchanged. Seed inputs live in
// testdata/fuzz/FuzzParseTagFilter.
func FuzzParseTagFilter(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		tags := resources.ParseTagFilter(s)
		seen := map[string]bool{}
		for _, tag := range tags {
			if tag == "" || tag != strings.TrimSpace(tag) || strings.Contains(tag, ",") || seen[tag] {
				t.Fatalf("ParseTagFilter(%q) = %q: empty, untrimmed, comma or duplicate piece", s, tags)
			}
			seen[tag] = true
		}
		normal, err := resources.NormalizeTags(strings.Split(s, ","))
		if err != nil {
			return
		}
		filter := resources.ParseTagFilter(strings.Join(normal, ","))
		slices.Sort(filter)
		if !slices.Equal(filter, normal) {
			t.Fatalf("tags %q read back from the filter as %q", normal, filter)
		}
	})
}
