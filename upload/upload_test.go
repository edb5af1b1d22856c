package upload_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/re-factor/resources/upload"
)

var opts = upload.Options{Member: "content", MaxKept: 1 << 10}

// result is what one Decode gave: the kept document, the file handed to put
// (nil when put was not called) and the error.
type result struct {
	kept      string
	mediaType string
	file      []byte
	err       error
}

func decode(r io.Reader, o upload.Options) result {
	var res result
	kept, err := upload.Decode(r, o, func(f upload.File) error {
		res.mediaType = f.MediaType
		b, err := io.ReadAll(f.Data)
		res.file = append([]byte{}, b...)
		return err
	})
	res.kept, res.err = string(kept), err
	return res
}

// readers splits a document's reads in the ways a network does.
var readers = map[string]func(string) io.Reader{
	"whole":    func(s string) io.Reader { return strings.NewReader(s) },
	"one byte": func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
	"halves":   func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) },
	"data+EOF": func(s string) io.Reader { return iotest.DataErrReader(strings.NewReader(s)) },
}

func TestDecode(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	tests := []struct {
		name, doc string
		kept      string
		mediaType string
		file      string
	}{
		{"file last", `{"name":"a.txt", "content":"data:text/plain;base64,aGVsbG8="}`,
			`{"name":"a.txt","content":"data:text/plain;base64,"}`, "text/plain", "hello"},
		{"file first", "{\n \"content\" : \"data:text/plain;base64,aGVsbG8=\",\n \"tags\": [\"a\", \"b\"] }",
			`{"content":"data:text/plain;base64,","tags":["a","b"]}`, "text/plain", "hello"},
		{`\/ inside the base64`, `{"content":"data:application/octet-stream;base64,\/\/\/\/"}`,
			`{"content":"data:application/octet-stream;base64,"}`, "application/octet-stream", "\xff\xff\xff"},
		{`\u escapes in header and data`, `{"content":"data:text\/plain;base64,\u0061GVsbG8\u003d"}`,
			`{"content":"data:text/plain;base64,"}`, "text/plain", "hello"},
		{`escaped newlines in the base64`, `{"content":"data:text/plain;base64,aGVs\nbG8=\r\n"}`,
			`{"content":"data:text/plain;base64,"}`, "text/plain", "hello"},
		{"parameters kept", `{"content":"data:Text/Plain;Charset=utf-8;base64,"}`,
			`{"content":"data:Text/Plain;Charset=utf-8;base64,"}`, "text/plain; charset=utf-8", ""},
		{"a large file", `{"content":"data:x/y;base64,` + b64(bytes.Repeat([]byte("0123456789"), 30_000)) + `"}`,
			`{"content":"data:x/y;base64,"}`, "x/y", strings.Repeat("0123456789", 30_000)},
		{"escaped member name", `{"cont\u0065nt":"data:x/y;base64,eA=="}`,
			`{"cont\u0065nt":"data:x/y;base64,"}`, "x/y", "x"},
		{"file member not a string", `{"content":null,"uri":"https://a.example/"}`,
			`{"content":null,"uri":"https://a.example/"}`, "", ""},
		{"no file member", `{"metadata":{"a":[1,-2.5e3,true,false,null,{}],"b":"\u00e9\"\\"}}`,
			`{"metadata":{"a":[1,-2.5e3,true,false,null,{}],"b":"\u00e9\"\\"}}`, "", ""},
		{"nested member of that name", `{"metadata":{"content":"hello"}}`, `{"metadata":{"content":"hello"}}`, "", ""},
		{"empty object", ` {} `, `{}`, "", ""},
		{"not an object", `[1, "content"]`, `[1,"content"]`, "", ""},
		{"a bare string", `"data:x/y;base64,eA=="`, `"data:x/y;base64,eA=="`, "", ""},
		{"empty", "", "", "", ""},
		{"white space only", " \n\t", "", "", ""},
	}
	for _, tt := range tests {
		for rname, reader := range readers {
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				got := decode(reader(tt.doc), upload.Options{Member: "content", MaxKept: 1 << 10})
				if got.err != nil {
					t.Fatalf("Decode: %v", got.err)
				}
				if got.kept != tt.kept {
					t.Errorf("kept %s, want %s", got.kept, tt.kept)
				}
				if got.mediaType != tt.mediaType || string(got.file) != tt.file {
					t.Errorf("file %q of %d bytes, want %q of %d", got.mediaType, len(got.file), tt.mediaType, len(tt.file))
				}
			})
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	tests := []struct {
		name, doc string
		kind      error
		says      string
	}{
		{"repeated member", `{"name":"a","name":"b"}`, upload.ErrInvalid, `"name" is given twice`},
		{"repeated file", `{"content":"data:x/y;base64,eA==","content":"data:x/y;base64,eA=="}`, upload.ErrInvalid, "twice"},
		{"repeated through an escape", `{"name":1,"n\u0061me":2}`, upload.ErrInvalid, "twice"},
		{"not a data URL", `{"content":"hello"}`, upload.ErrInvalid, "content: must be a base64 data URL (it does not start with data:)"},
		{"too short for a data URL", `{"content":"dat"}`, upload.ErrInvalid, "does not start with data:"},
		{"no comma", `{"content":"data:text/plain;base64"}`, upload.ErrInvalid, "no ','"},
		{"not base64", `{"content":"data:text/plain,hello"}`, upload.ErrInvalid, "does not end in ;base64"},
		{"bad MIME type", `{"content":"data:text;base64,aGk="}`, upload.ErrInvalid, `"text" is not type/subtype`},
		{"space in the media type", `{"content":"data:text/plain; charset=utf-8;base64,aGk="}`, upload.ErrInvalid, "not attribute=value"},
		{"too many parameters", `{"content":"data:a/b;p=1;p=2;p=3;p=4;p=5;p=6;p=7;p=8;base64,"}`, upload.ErrInvalid, "more than 7 parameters"},
		{"long subtype", `{"content":"data:a/` + strings.Repeat("b", 128) + `;base64,"}`, upload.ErrInvalid, "at most 127"},
		{"endless header", `{"content":"data:` + strings.Repeat("a", 5000) + `"}`, upload.ErrInvalid, "longer than 4096"},
		{"bad base64", `{"content":"data:x/y;base64,!!!!"}`, upload.ErrInvalid, "invalid base64 at byte 0"},
		{"unpadded base64", `{"content":"data:x/y;base64,aGVsbG8"}`, upload.ErrInvalid, "truncated"},
		{"data after padding", `{"content":"data:x/y;base64,aGk=aGk="}`, upload.ErrInvalid, "invalid base64"},
		{"raw newline in the data", "{\"content\":\"data:x/y;base64,aG\nk=\"}", upload.ErrInvalid, "control character"},
		{"unknown escape", `{"content":"data:x/y;base64,\q"}`, upload.ErrInvalid, `\q`},
		{"short \\u escape", `{"name":"\u12"}`, upload.ErrInvalid, "four hex"},
		{"trailing data", `{"name":"a"} {}`, upload.ErrInvalid, "after the end"},
		{"trailing comma", `{"name":"a",}`, upload.ErrInvalid, "member name"},
		{"missing colon", `{"name" "a"}`, upload.ErrInvalid, "':'"},
		{"bad number", `{"n":01}`, upload.ErrInvalid, "not a JSON value"},
		{"bad literal", `{"n":nul}`, upload.ErrInvalid, "not a JSON value"},
		{"unclosed array", `{"tags":["a" "b"]}`, upload.ErrInvalid, "should follow a value"},
		{"mismatched brackets", `{"tags":["a"}`, upload.ErrInvalid, "should follow a value"},
		{"single quotes", `{'name':'a'}`, upload.ErrInvalid, "member name"},
		{"kept part too large", `{"metadata":"` + strings.Repeat("x", 2000) + `"}`, upload.ErrTooLarge, "larger than 1024 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decode(strings.NewReader(tt.doc), opts)
			var ue *upload.Error
			if !errors.As(got.err, &ue) || !errors.Is(got.err, tt.kind) {
				t.Fatalf("Decode = %v, want an *upload.Error of kind %v", got.err, tt.kind)
			}
			if !strings.Contains(ue.Error(), tt.says) {
				t.Errorf("error %q does not say %q", ue, tt.says)
			}
		})
	}
	deep := `{"m":` + strings.Repeat("[", 10_001) + strings.Repeat("]", 10_001) + `}`
	if got := decode(strings.NewReader(deep), upload.Options{Member: "content", MaxKept: 1 << 20}); !errors.Is(got.err, upload.ErrInvalid) ||
		!strings.Contains(got.err.Error(), "nested") {
		t.Errorf("10,001 nested arrays = %v, want refused for nesting", got.err)
	}
}

// TestDecodeTruncated cuts a document at every byte: each cut is refused as
// ending too soon, never accepted or hung on.
func TestDecodeTruncated(t *testing.T) {
	doc := `{"name":"a\"b","tags":["x",{"k":[1.5e2,true]}],"content":"data:text/plain;base64,aGVsbG8g\/\/4=","metadata":null}`
	if got := decode(strings.NewReader(doc), opts); got.err != nil || string(got.file) != "hello \xff\xfe" {
		t.Fatalf("whole document: %q, %v", got.file, got.err)
	}
	for i := 1; i < len(doc); i++ {
		got := decode(iotest.HalfReader(strings.NewReader(doc[:i])), opts)
		if !errors.Is(got.err, upload.ErrInvalid) {
			t.Errorf("cut after %d bytes (%q): %v, want refused", i, doc[:i], got.err)
		}
	}
}

func TestDecodeReadErrors(t *testing.T) {
	boom := errors.New("connection reset")
	for _, doc := range []string{`{"name":"a"`, `{"content":"data:x/y;base64,aGVs`} {
		r := io.MultiReader(strings.NewReader(doc), iotest.ErrReader(boom))
		got := decode(r, opts)
		if !errors.Is(got.err, upload.ErrRead) || !errors.Is(got.err, boom) {
			t.Errorf("%s then a failing read: %v, want ErrRead wrapping the reader's error", doc, got.err)
		}
	}
}

func TestDecodePut(t *testing.T) {
	doc := `{"content":"data:x/y;base64,aGVsbG8=","name":"a"}`
	stop := errors.New("storage is down")
	_, err := upload.Decode(strings.NewReader(doc), opts, func(upload.File) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("put failing: Decode = %v, want put's error", err)
	}
	// put may read nothing: the rest is still checked and kept.
	kept, err := upload.Decode(strings.NewReader(doc), opts, func(upload.File) error { return nil })
	if err != nil || string(kept) != `{"content":"data:x/y;base64,","name":"a"}` {
		t.Errorf("put reading nothing: %s, %v", kept, err)
	}
	_, err = upload.Decode(strings.NewReader(`{"content":"data:x/y;base64,!!!!"}`), opts, func(upload.File) error { return nil })
	if !errors.Is(err, upload.ErrInvalid) {
		t.Errorf("put reading nothing of broken base64: %v, want ErrInvalid", err)
	}
}

// TestDecodeBefore: put sees the members before the file, as an object.
func TestDecodeBefore(t *testing.T) {
	tests := []struct{ doc, before string }{
		{`{"content":"data:x/y;base64,aGk="}`, `{}`},
		{`{"name":"a", "directory_path" : "/in",  "content":"data:x/y;base64,aGk=","tags":["t"]}`,
			`{"name":"a","directory_path":"/in"}`},
		{`{"metadata":{"k":[1,{"x":"}"}]},"content":"data:x/y;base64,aGk="}`, `{"metadata":{"k":[1,{"x":"}"}]}}`},
	}
	for _, tt := range tests {
		var got string
		_, err := upload.Decode(strings.NewReader(tt.doc), opts, func(f upload.File) error {
			got = string(f.Before)
			_, err := io.Copy(io.Discard, f.Data)
			return err
		})
		if err != nil || got != tt.before {
			t.Errorf("%s: Before = %s, %v; want %s", tt.doc, got, err, tt.before)
		}
	}
}

// TestDecodeMemory streams a 24 MiB file and checks that Decode reads it a
// buffer at a time: the reads it asks of its reader stay small.
func TestDecodeMemory(t *testing.T) {
	const size = 24 << 20
	body := io.MultiReader(strings.NewReader(`{"content":"data:x/y;base64,`),
		base64Stream(size), strings.NewReader(`"}`))
	var n int64
	_, err := upload.Decode(&maxRead{r: body, t: t, max: 1 << 20}, opts, func(f upload.File) (err error) {
		n, err = io.Copy(io.Discard, f.Data)
		return err
	})
	if err != nil || n != size {
		t.Fatalf("decoded %d bytes, %v; want %d", n, err, size)
	}
}

// base64Stream yields the base64 of n zero bytes without holding them.
func base64Stream(n int64) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		enc := base64.NewEncoder(base64.StdEncoding, pw)
		_, err := io.CopyN(enc, zeros{}, n)
		if err == nil {
			err = enc.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// maxRead fails the test when a read asks for more than max bytes at once.
type maxRead struct {
	r   io.Reader
	t   *testing.T
	max int
}

func (m *maxRead) Read(p []byte) (int, error) {
	if len(p) > m.max {
		m.t.Errorf("a read of %d bytes, want at most %d", len(p), m.max)
	}
	return m.r.Read(p)
}

// BenchmarkDecode decodes an 8 MiB file from a data URL: bytes per second
// of file, and allocations per upload (which must not grow with the file).
func BenchmarkDecode(b *testing.B) {
	const size = 8 << 20
	file := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	doc := []byte(`{"name":"a","content":"data:x/y;base64,` + base64.StdEncoding.EncodeToString(file) + `"}`)
	o := upload.Options{Member: "content", MaxKept: 1 << 20}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		_, err := upload.Decode(bytes.NewReader(doc), o, func(f upload.File) error {
			_, err := io.Copy(io.Discard, f.Data)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
