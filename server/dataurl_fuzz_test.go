package server

import (
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"regexp"
	"testing"

	"github.com/re-factor/resources/gen"
)

// dataURLPattern is the DataURL schema's pattern from the embedded spec,
// which the request validator leaves to parseDataURL and reader.
func dataURLPattern(tb testing.TB) *regexp.Regexp {
	tb.Helper()
	spec, err := gen.GetSpec()
	if err != nil {
		tb.Fatal(err)
	}
	return regexp.MustCompile(spec.Components.Schemas["DataURL"].Value.Pattern)
}

// FuzzParseDataURL checks that the content data URL reader accepts exactly
// what the DataURL pattern of openapi.yaml matches, refusing the rest with
// errBadContent; and that what it accepts yields a parseable media type and
// exactly the bytes the standard decoder finds, never more than
// decodedSize.
func FuzzParseDataURL(f *testing.F) {
	for _, s := range []string{
		"data:text/plain;base64,aGk=", "data:Text/Plain;Charset=\"utf-8\";a=1;A=2;base64,aGk=\r\n",
		"data:a/b;base64,AB==", "data:a/b;base64,A\nB\r=\n=", "data:a/b;base64,AA==AA==", "data:a/b;base64,AAA",
		"data:a/b;x=\"a,b\";base64,", "data:a/b; x=1;base64,", "data:a/b;base64;base64,", "data:;base64,",
	} {
		f.Add(s)
	}
	pattern := dataURLPattern(f)
	f.Fuzz(func(t *testing.T, s string) {
		matched := pattern.MatchString(s)
		d, err := parseDataURL(s)
		var got []byte
		if err == nil {
			got, err = io.ReadAll(d.reader())
		}
		if err != nil {
			if !errors.Is(err, errBadContent) {
				t.Fatalf("%q: error %v is not errBadContent", s, err)
			}
			if matched {
				t.Fatalf("%q: the DataURL pattern matches, but the server refuses it: %v", s, err)
			}
			return
		}
		if !matched {
			t.Fatalf("%q: the server accepts what the DataURL pattern does not match", s)
		}
		if _, _, err := mime.ParseMediaType(d.mediaType); err != nil {
			t.Fatalf("%q: media type %q does not parse again: %v", s, d.mediaType, err)
		}
		want, wantErr := base64.StdEncoding.DecodeString(stripCRLF(d.data))
		if wantErr != nil || string(got) != string(want) {
			t.Fatalf("%q: decoded %q, the standard decoder %q, %v", s, got, want, wantErr)
		}
		if int64(len(got)) > d.decodedSize() {
			t.Fatalf("%q: %d bytes decoded, decodedSize said %d", s, len(got), d.decodedSize())
		}
	})
}

func stripCRLF(s string) string {
	return regexp.MustCompile(`[\r\n]`).ReplaceAllString(s, "")
}
