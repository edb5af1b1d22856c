package upload_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/re-factor/resources/server/spectest"
	"github.com/re-factor/resources/upload"
)

// FuzzDecode holds Decode to encoding/json and to openapi.yaml's DataURL
// pattern: whatever the input, however its reads are split and wherever the
// base64 blocks end, Decode accepts exactly the valid JSON documents without
// repeated top-level members whose file member, when a string, matches the
// pattern; it keeps what encoding/json reads, except the file's data, and
// hands put the media type the spec describes and the bytes the standard
// base64 decoder finds.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"name":"a.txt","content":"data:text/plain;base64,aGVsbG8="}`,
		`{"content":"data:a/b;x=\"1\";base64,\/\/4=","tags":["a"],"metadata":{"k":[1,2.5e-3,null]}}`,
		`{"content":"data:a/b;base64,aGVs\nbG8=\u003d"}`,
		`{"content":"data:a/\ud83d\ude00;base64,"}`,
		`{"content":null,"uri":"https://a.example/x"}`,
		`{"name":"a","name":"a"}`,
		`[{"content":"x"}]`,
		` "x" `,
		`{"content":"data:text/plain,hi"}`,
		// mime.ParseMediaType, once the oracle, reads these differently
		// from the spec: it allows spaces, refuses a repeated attribute and
		// decodes RFC 2231's attribute*.
		`{"content":"data: a/b;base64,"}`,
		`{"content":"data:a/b; x=1;base64,"}`,
		`{"content":"data:A/B;X=\"\";x=2;y=\"a;b c\";base64,"}`,
		`{"content":"data:a/b;x*=utf-8''%41;base64,"}`,
	} {
		f.Add([]byte(seed), uint8(0))
	}
	o := upload.Options{Member: "content", MaxKept: 1 << 20}
	dataURL := spectest.DataURLPattern(f)
	f.Fuzz(func(t *testing.T, doc []byte, split uint8) {
		var r io.Reader = bytes.NewReader(doc)
		switch split % 3 {
		case 1:
			r = iotest.OneByteReader(r)
		case 2:
			r = iotest.HalfReader(r)
		}
		// Small blocks of base64 put quanta, padding and newlines on
		// their edges.
		defer upload.SetBase64Block(4 + int(split/3)%13)()
		got := decode(r, o)
		want, ok := reference(doc, dataURL)
		if !ok {
			if got.err == nil {
				t.Fatalf("%q: accepted as %s, but it is not an upload encoding/json reads", doc, got.kept)
			}
			var ue *upload.Error
			if !errors.As(got.err, &ue) || !errors.Is(got.err, upload.ErrInvalid) {
				t.Fatalf("%q: refused with %v, want an *upload.Error wrapping ErrInvalid", doc, got.err)
			}
			return
		}
		if got.err != nil {
			t.Fatalf("%q: refused (%v), but encoding/json reads it", doc, got.err)
		}
		if want.empty {
			if got.kept != "" {
				t.Fatalf("%q: kept %q of an empty document", doc, got.kept)
			}
			return
		}
		kept, err := unmarshal([]byte(got.kept))
		if err != nil {
			t.Fatalf("%q: kept %q, which is not JSON: %v", doc, got.kept, err)
		}
		if !reflect.DeepEqual(kept, want.doc) {
			t.Fatalf("%q: kept %#v, want %#v", doc, kept, want.doc)
		}
		if got.mediaType != want.mediaType || !bytes.Equal(got.file, want.file) {
			t.Fatalf("%q: file %q %q, want %q %q", doc, got.mediaType, got.file, want.mediaType, want.file)
		}
	})
}

// reference reads doc with encoding/json, the DataURL pattern and the
// standard base64 decoder, following the rules Decode documents; ok is false
// when Decode must refuse.
func reference(doc []byte, dataURL *regexp.Regexp) (want struct {
	empty     bool
	doc       any
	mediaType string
	file      []byte
}, ok bool) {
	if len(bytes.Trim(doc, " \t\r\n")) == 0 {
		want.empty = true
		return want, true
	}
	if !json.Valid(doc) || repeatsTopLevelMember(doc) {
		return want, false
	}
	var err error
	if want.doc, err = unmarshal(doc); err != nil {
		return want, false
	}
	obj, isObject := want.doc.(map[string]any)
	s, isString := obj["content"].(string)
	if !isObject || !isString {
		return want, true
	}
	if !dataURL.MatchString(s) {
		return want, false
	}
	header, data, _ := strings.Cut(s, ",")
	file, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return want, false
	}
	obj["content"] = header + ","
	want.mediaType, want.file = specMediaType(header), file
	return want, true
}

// mediaTypeParam is an attribute and its value in a header the DataURL
// pattern matched, where an attribute holds no '=' or ';', a token value no
// ';' or '"', and a quoted value no '"'.
var mediaTypeParam = regexp.MustCompile(`;([^;=]+)=(?:"([^"]*)"|([^;"]+))`)

// specMediaType is the media type of a header the DataURL pattern matched,
// as the spec's description makes it: type, subtype and attribute names in
// lower case, parameters sorted, a repeated attribute's first value kept.
func specMediaType(header string) string {
	mt := strings.TrimSuffix(strings.TrimPrefix(header, "data:"), ";base64")
	typ, _, _ := strings.Cut(mt, ";")
	params := map[string]string{}
	for _, m := range mediaTypeParam.FindAllStringSubmatch(mt, -1) {
		attr := strings.ToLower(m[1])
		if _, seen := params[attr]; !seen {
			params[attr] = m[2] + m[3]
		}
	}
	return mime.FormatMediaType(strings.ToLower(typ), params)
}

// repeatsTopLevelMember reports whether a valid document is an object that
// names a member twice.
func repeatsTopLevelMember(doc []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(doc))
	if tok, _ := dec.Token(); tok != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, _ := dec.Token()
		name, _ := tok.(string)
		if seen[name] {
			return true
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return false
		}
	}
	return false
}

// unmarshal decodes a JSON document keeping numbers as they are written, so
// that one too large for a float64 is still a value.
func unmarshal(doc []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}
