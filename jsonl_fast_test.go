package resources

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzScanLine checks scanLine against encoding/json: a line it reads is
// one encoding/json reads to the same fields.
func FuzzScanLine(f *testing.F) {
	for _, line := range []string{
		`{"id":"a","account_id":"acme","name":"n","directory_path":"/","mime_type":"text/plain","sha256":"00","storage_bucket":"b","storage_key":"k","size_bytes":12,"tags":["x","y"],"created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-01T00:00:00Z"}`,
		` { "id" : "a" , "size_bytes" : -0 , "tags" : [ ] , "metadata" : {"a":[1,{"b":"}\""}]} } `,
		`{"name":"é","metadata":{}}`,
		`{"name":"\u00e9"}`,
		`{"name":"a","name":"b"}`,
		`{"ID":"a"}`,
		`{"size_bytes":1.0}`,
		`{"size_bytes":01}`,
		`{"size_bytes":1e3}`,
		`{"size_bytes":99999999999999999999}`,
		`{"tags":null}`,
		`{"metadata":[1]}`,
		`{"metadata":{"a":}}`,
		"{\"name\":\"a\xffb\"}",
		`{}`,
		`{} x`,
		`[]`,
		``,
	} {
		f.Add([]byte(line))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var fast resourceLine
		if !scanLine(line, &fast) {
			return
		}
		var slow resourceLine
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&slow); err != nil {
			t.Fatalf("%q: scanLine read it, encoding/json: %v", line, err)
		}
		if rest := bytes.TrimSpace(line[dec.InputOffset():]); len(rest) > 0 {
			t.Fatalf("%q: scanLine read it, encoding/json finds data after the object", line)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: scanLine read\n%+v\nencoding/json\n%+v", line, fast, slow)
		}
	})
}

// BenchmarkDecodeLine decodes a line of the benchmark's dataset: by
// scanLine, and by encoding/json as lines scanLine leaves to it are.
func BenchmarkDecodeLine(b *testing.B) {
	line := []byte(`{"id":"6660f39f-43b8-4c1a-888b-f66457478a1d","account_id":"acct-0000","name":"file-0000001.dat","directory_path":"/d5/d4/d3/d0/d7","mime_type":"image/png","sha256":"87b96bc5897e01f09e3ab576778b39ce87b96bc5897e01f09e3ab576778b39ce","storage_bucket":"bench","storage_key":"acct-0000/6660f39f-43b8-4c1a-888b-f66457478a1d","size_bytes":3893936,"tags":["t001","t016","t028"],"metadata":{"source":"bench","batch":7},"created_by":"user-0","created_at":"2025-10-07T19:37:03.047458Z","updated_at":"2025-10-07T19:37:03.047458Z"}`)
	b.Run("scanLine", func(b *testing.B) {
		for b.Loop() {
			if _, err := DecodeLine(line); err != nil {
				b.Fatal(err)
			}
		}
	})
	// A key in another case is one only encoding/json reads.
	slow := bytes.Replace(line, []byte(`"ID"`), []byte(`"Id"`), 1)
	slow = bytes.Replace(slow, []byte(`{"id"`), []byte(`{"Id"`), 1)
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			if _, err := DecodeLine(slow); err != nil {
				b.Fatal(err)
			}
		}
	})
}
