package resources_test

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/re-factor/resources"
)

// The fuzz targets below hold the validators to their documented rules
// both ways: a value is accepted exactly when it keeps every rule, each
// stated here again from the contract, lengths in characters. Seed inputs
// live in testdata/fuzz/<target> and run in every `go test`; `make fuzz`
// explores further.

func FuzzValidateDirectoryPath(f *testing.F) {
	f.Fuzz(func(t *testing.T, p string) {
		err := resources.ValidateDirectoryPath(p)
		if err != nil && !errors.Is(err, resources.ErrInvalid) {
			t.Fatalf("%q: error %v does not match ErrInvalid", p, err)
		}
		valid := strings.HasPrefix(p, "/") && utf8.ValidString(p) &&
			utf8.RuneCountInString(p) <= resources.MaxDirectoryPathChars &&
			(p == "/" || !strings.HasSuffix(p, "/")) &&
			!strings.Contains(p, "//") && !strings.Contains(p+"/", "/./") && !strings.Contains(p+"/", "/../") &&
			!strings.ContainsFunc(p, unicode.IsControl)
		if (err == nil) != valid {
			t.Fatalf("ValidateDirectoryPath(%q) = %v; the rules say valid = %v", p, err, valid)
		}
	})
}

func FuzzValidateName(f *testing.F) {
	f.Fuzz(func(t *testing.T, n string) {
		err := resources.ValidateName(n)
		valid := n != "" && utf8.ValidString(n) && utf8.RuneCountInString(n) <= resources.MaxNameChars &&
			!strings.Contains(n, "/") && !strings.ContainsFunc(n, unicode.IsControl)
		if (err == nil) != valid {
			t.Fatalf("ValidateName(%q) = %v; the rules say valid = %v", n, err, valid)
		}
	})
}

// FuzzNormalizeTags splits its input on newlines into a tag list.
func FuzzNormalizeTags(f *testing.F) {
	f.Fuzz(func(t *testing.T, list string) {
		in := strings.Split(list, "\n")
		got, err := resources.NormalizeTags(in)
		if err != nil && !errors.Is(err, resources.ErrInvalid) {
			t.Fatalf("error %v does not match ErrInvalid", err)
		}
		valid := len(in) <= resources.MaxTags
		for _, tag := range in {
			tag = strings.TrimSpace(tag)
			valid = valid && tag != "" && utf8.ValidString(tag) && utf8.RuneCountInString(tag) <= resources.MaxTagChars &&
				!strings.Contains(tag, ",") && !strings.ContainsFunc(tag, unicode.IsControl)
		}
		if (err == nil) != valid {
			t.Fatalf("NormalizeTags(%q) = %v; the rules say valid = %v", in, err, valid)
		}
		if err != nil {
			return
		}
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("NormalizeTags(%q) = %q: want sorted and unique", in, got)
		}
		// Normal form is a fixed point (FuzzParseTagFilter checks that every
		// kept tag can be filtered on).
		again, err := resources.NormalizeTags(got)
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("NormalizeTags(%q) = %q, %v; want it unchanged", got, again, err)
		}
	})
}

// FuzzDecodeLine reads import lines: anything decoded is valid and
// survives an encode/decode round trip unchanged.
func FuzzDecodeLine(f *testing.F) {
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := resources.DecodeLine(line)
		if err != nil {
			if !errors.Is(err, resources.ErrInvalid) {
				t.Fatalf("%q: error %v does not match ErrInvalid", line, err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("%q decoded to an invalid resource: %v", line, err)
		}
		var buf bytes.Buffer
		if err := resources.EncodeLine(&buf, r); err != nil {
			t.Fatalf("encode %+v: %v", r, err)
		}
		enc := buf.Bytes()
		if bytes.IndexByte(enc, '\n') != len(enc)-1 {
			t.Fatalf("encoded line %q is not one line ending in a newline", enc)
		}
		back, err := resources.DecodeLine(enc)
		if err != nil {
			t.Fatalf("re-decode %q: %v", enc, err)
		}
		if !reflect.DeepEqual(back, r) {
			t.Fatalf("round trip changed the resource:\n got %+v\nwant %+v", back, r)
		}
	})
}
