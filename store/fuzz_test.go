package store_test

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/re-factor/resources/store"
)

// The fuzz targets below check the validators against their documented
// rules. Seed inputs live in testdata/fuzz/<target>; `make fuzz` runs each
// target for longer.

func FuzzValidateDirectoryPath(f *testing.F) {
	f.Fuzz(func(t *testing.T, p string) {
		err := store.ValidateDirectoryPath(p)
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("%q: error %v does not match ErrInvalid", p, err)
			}
			return
		}
		switch {
		case !strings.HasPrefix(p, "/"), len(p) > 1024, !utf8.ValidString(p):
			t.Fatalf("%q accepted: not absolute, too long or not UTF-8", p)
		case p != "/" && strings.HasSuffix(p, "/"):
			t.Fatalf("%q accepted with a trailing slash", p)
		case strings.Contains(p, "//"), strings.Contains(p+"/", "/./"), strings.Contains(p+"/", "/../"):
			t.Fatalf("%q accepted with an empty, . or .. segment", p)
		case strings.ContainsFunc(p, unicode.IsControl):
			t.Fatalf("%q accepted with a control character", p)
		}
	})
}

func FuzzValidateName(f *testing.F) {
	f.Fuzz(func(t *testing.T, n string) {
		if err := store.ValidateName(n); err != nil {
			return
		}
		if n == "" || len(n) > 255 || strings.Contains(n, "/") || strings.ContainsFunc(n, unicode.IsControl) {
			t.Fatalf("name %q accepted", n)
		}
	})
}

// FuzzNormalizeTags splits its input on newlines into a tag list.
func FuzzNormalizeTags(f *testing.F) {
	f.Fuzz(func(t *testing.T, list string) {
		in := strings.Split(list, "\n")
		got, err := store.NormalizeTags(in)
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			return
		}
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) || len(got) > 50 {
			t.Fatalf("NormalizeTags(%q) = %q: want sorted, unique, at most 50", in, got)
		}
		for _, tag := range got {
			// No control character: the store joins tags with U+001F.
			if tag == "" || tag != strings.TrimSpace(tag) || len(tag) > 64 || strings.Contains(tag, ",") ||
				strings.ContainsFunc(tag, unicode.IsControl) {
				t.Fatalf("NormalizeTags(%q) kept %q", in, tag)
			}
		}
		// Normal form is a fixed point (resources.FuzzParseTagFilter checks
		// that every kept tag can be filtered on).
		again, err := store.NormalizeTags(got)
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("NormalizeTags(%q) = %q, %v; want it unchanged", got, again, err)
		}
	})
}

// FuzzDecodeResourceLine reads import lines: anything decoded is valid and
// survives an encode/decode round trip unchanged.
func FuzzDecodeResourceLine(f *testing.F) {
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := store.DecodeResourceLine(line)
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("%q: error %v does not match ErrInvalid", line, err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("%q decoded to an invalid resource: %v", line, err)
		}
		enc, err := store.EncodeResourceLine(r)
		if err != nil {
			t.Fatalf("encode %+v: %v", r, err)
		}
		if bytes.IndexByte(enc, '\n') != len(enc)-1 {
			t.Fatalf("encoded line %q is not one line ending in a newline", enc)
		}
		back, err := store.DecodeResourceLine(enc)
		if err != nil {
			t.Fatalf("re-decode %q: %v", enc, err)
		}
		if !reflect.DeepEqual(back, r) {
			t.Fatalf("round trip changed the resource:\n got %+v\nwant %+v", back, r)
		}
	})
}
