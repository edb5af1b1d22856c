package store

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestCompactIsJSONCompact checks compact against json.Compact, which it
// replaced for metadata read from jsonb: the same bytes for every document,
// white space inside strings and escaped quotes and backslashes kept.
func TestCompactIsJSONCompact(t *testing.T) {
	docs := []string{
		`{}`, `[]`, `null`, `1`, `"a b"`,
		`{"k": "v w", "n": [1, 2], "o": {"t": " a\tb "}}`,
		`{"q": "say \"hi\" ", "b": "back\\", "c": "\\\" x"}`,
		"{\n\t\"a\" : [ true , false , null ] ,\r\n \"e\": \"\\u00e9 \\n\"\n}",
		`{"deep": [[[[{"x": [ ]}]]]], "s": "  "}`,
		`{"ä": "ö ü", "emoji": "😀 "}`,
	}
	for _, doc := range docs {
		var want bytes.Buffer
		if err := json.Compact(&want, []byte(doc)); err != nil {
			t.Fatalf("json.Compact(%q): %v", doc, err)
		}
		if got := compact(doc); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("compact(%q) = %q, want %q", doc, got, want.Bytes())
		}
		if got := compact([]byte(doc)); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("compact([]byte(%q)) = %q, want %q", doc, got, want.Bytes())
		}
	}
}

// FuzzCompact checks compact against json.Compact on any valid JSON.
func FuzzCompact(f *testing.F) {
	f.Add(`{"k": "v w", "n": [1, 2]}`)
	f.Add(`["\" ", "\\ ", 1.5e3 ]`)
	f.Fuzz(func(t *testing.T, doc string) {
		var want bytes.Buffer
		if json.Compact(&want, []byte(doc)) != nil {
			return // compact takes only valid JSON
		}
		if got := compact(doc); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("compact(%q) = %q, want %q", doc, got, want.Bytes())
		}
	})
}
