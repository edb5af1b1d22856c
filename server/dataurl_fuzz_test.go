package server

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"strings"
	"testing"

	"github.com/re-factor/resources/server/spectest"
	"github.com/re-factor/resources/upload"
)

// FuzzDataURLPattern checks that a create's content, streamed through
// upload.Decode as createResource reads it, is accepted exactly when the
// DataURL pattern of openapi.yaml matches it, and refused otherwise as
// invalid; and that what it accepts yields a media type that parses again
// and exactly the bytes the standard decoder finds.
func FuzzDataURLPattern(f *testing.F) {
	for _, s := range []string{
		"data:text/plain;base64,aGk=", "data:Text/Plain;Charset=\"utf-8\";a=1;A=2;base64,aGk=\r\n",
		"data:a/b;base64,AB==", "data:a/b;base64,A\nB\r=\n=", "data:a/b;base64,AA==AA==", "data:a/b;base64,AAA",
		"data:a/b;x=\"a,b\";base64,", "data:a/b; x=1;base64,", "data:a/b;base64;base64,", "data:;base64,",
		"data:a/b;p=1;p=2;p=3;p=4;p=5;p=6;p=7;base64,", "data:a/b;p=1;p=2;p=3;p=4;p=5;p=6;p=7;p=8;base64,",
		"data:a/" + strings.Repeat("b", 127) + ";base64,", "data:a/" + strings.Repeat("b", 128) + ";base64,",
	} {
		f.Add(s)
	}
	pattern := spectest.DataURLPattern(f)
	f.Fuzz(func(t *testing.T, s string) {
		matched := pattern.MatchString(s)
		doc, err := json.Marshal(map[string]string{"content": s})
		if err != nil {
			t.Skip() // not text JSON can carry
		}
		var mediaType string
		var got []byte
		_, err = upload.Decode(strings.NewReader(string(doc)), upload.Options{Member: "content", MaxKept: maxKept},
			func(f upload.File) (err error) {
				mediaType = f.MediaType
				got, err = io.ReadAll(f.Data)
				return err
			})
		if err != nil {
			if !errors.Is(err, upload.ErrInvalid) {
				t.Fatalf("%q: error %v is not upload.ErrInvalid", s, err)
			}
			if matched {
				t.Fatalf("%q: the DataURL pattern matches, but the server refuses it: %v", s, err)
			}
			return
		}
		if !matched {
			t.Fatalf("%q: the server accepts what the DataURL pattern does not match", s)
		}
		if _, _, err := mime.ParseMediaType(mediaType); err != nil {
			t.Fatalf("%q: media type %q does not parse again: %v", s, mediaType, err)
		}
		_, data, _ := strings.Cut(s, ",")
		want, wantErr := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(data))
		if wantErr != nil || string(got) != string(want) {
			t.Fatalf("%q: decoded %q, the standard decoder %q, %v", s, got, want, wantErr)
		}
	})
}
