package server

import (
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"strings"
	"testing"
)

// FuzzParseDataURL checks the content data URL reader: it either refuses
// with errBadContent, or yields a parseable media type and exactly the
// bytes the standard decoder finds, never more than decodedSize.
func FuzzParseDataURL(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDataURL(s)
		if err != nil {
			if !errors.Is(err, errBadContent) {
				t.Fatalf("%q: error %v is not errBadContent", s, err)
			}
			return
		}
		if _, _, err := mime.ParseMediaType(d.mediaType); err != nil {
			t.Fatalf("%q: media type %q does not parse again: %v", s, d.mediaType, err)
		}
		got, err := io.ReadAll(d.reader())
		want, wantErr := base64.StdEncoding.DecodeString(d.data)
		if err != nil {
			if !errors.Is(err, errBadContent) {
				t.Fatalf("%q: read error %v is not errBadContent", s, err)
			}
			if wantErr == nil && !strings.ContainsAny(d.data, "\r\n") {
				t.Fatalf("%q: refused, but the standard decoder reads it", s)
			}
			return
		}
		if wantErr == nil && string(got) != string(want) {
			t.Fatalf("%q: decoded %q, want %q", s, got, want)
		}
		if int64(len(got)) > d.decodedSize() {
			t.Fatalf("%q: %d bytes decoded, decodedSize said %d", s, len(got), d.decodedSize())
		}
	})
}
