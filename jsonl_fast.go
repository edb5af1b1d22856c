package resources

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// scanLine reads the common form of an import line into l without
// reflection: a single object whose keys are the exact field names, each
// at most once, whose strings have no escapes and whose size is a plain
// integer. encoding/json took most of an import's CPU decoding lines
// (13 µs of the 30 µs a row cost); this takes a fraction of that. It
// reports false for anything else (an escape, a null, an unknown or
// repeated key, a syntax error), and DecodeLine then reads the line with
// encoding/json, which accepts the same lines and names what is wrong
// with the others: what it fills in is what encoding/json would.
func scanLine(line []byte, l *resourceLine) bool {
	s := lineScanner{b: line}
	if !s.skip('{') {
		return false
	}
	var seen uint32
	if s.skip('}') {
		return s.end()
	}
	for {
		key, ok := s.str()
		if !ok || !s.skip(':') {
			return false
		}
		i, known := lineFields[string(key)]
		if !known || seen&(1<<i) != 0 {
			return false
		}
		seen |= 1 << i
		if !s.value(lineFieldNames[i], l) {
			return false
		}
		if s.skip('}') {
			return s.end()
		}
		if !s.skip(',') {
			return false
		}
	}
}

// lineFieldNames are resourceLine's JSON names; lineFields gives each
// one's index, its bit in scanLine's record of the keys seen.
var (
	lineFieldNames = []string{"id", "account_id", "name", "directory_path", "mime_type", "sha256",
		"original_uri", "external_id", "external_storage_type", "storage_bucket", "storage_key",
		"size_bytes", "tags", "metadata", "created_by", "created_at", "updated_at"}
	lineFields = map[string]int{}
)

func init() {
	for i, name := range lineFieldNames {
		lineFields[name] = i
	}
}

// stringField returns the field of l that holds the string field name,
// or nil if name is not a string field.
func (l *resourceLine) stringField(name string) **string {
	switch name {
	case "id":
		return &l.ID
	case "account_id":
		return &l.AccountID
	case "name":
		return &l.Name
	case "directory_path":
		return &l.DirectoryPath
	case "mime_type":
		return &l.MimeType
	case "sha256":
		return &l.SHA256
	case "original_uri":
		return &l.OriginalURI
	case "external_id":
		return &l.ExternalID
	case "external_storage_type":
		return &l.ExternalStorageType
	case "storage_bucket":
		return &l.StorageBucket
	case "storage_key":
		return &l.StorageKey
	case "created_by":
		return &l.CreatedBy
	case "created_at":
		return &l.CreatedAt
	case "updated_at":
		return &l.UpdatedAt
	}
	return nil
}

// lineScanner walks a line; every method skips the JSON whitespace before
// what it reads.
type lineScanner struct {
	b []byte
	i int
}

func (s *lineScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// skip consumes c if it comes next.
func (s *lineScanner) skip(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end says whether only whitespace is left.
func (s *lineScanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// str reads a string without escapes, in valid UTF-8, and returns its
// bytes (unquoted, as encoding/json would give them).
func (s *lineScanner) str() ([]byte, bool) {
	if !s.skip('"') {
		return nil, false
	}
	start, ascii := s.i, true
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			return v, ascii || utf8.Valid(v)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// value reads the value of the field name into l.
func (s *lineScanner) value(name string, l *resourceLine) bool {
	switch name {
	case "size_bytes":
		n, ok := s.integer()
		l.SizeBytes = &n
		return ok
	case "tags":
		return s.tags(l)
	case "metadata":
		return s.object(l)
	}
	v, ok := s.str()
	str := string(v)
	*l.stringField(name) = &str
	return ok
}

// integer reads a JSON number without fraction or exponent that fits an
// int64.
func (s *lineScanner) integer() (int64, bool) {
	s.ws()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	digits := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	switch {
	case s.i == digits, s.b[digits] == '0' && s.i > digits+1:
		return 0, false // no digits, or a leading zero
	case s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E'):
		return 0, false
	}
	n, err := strconv.ParseInt(string(s.b[start:s.i]), 10, 64)
	return n, err == nil
}

// tags reads an array of strings.
func (s *lineScanner) tags(l *resourceLine) bool {
	if !s.skip('[') {
		return false
	}
	l.Tags = []string{}
	if s.skip(']') {
		return true
	}
	for {
		v, ok := s.str()
		if !ok {
			return false
		}
		l.Tags = append(l.Tags, string(v))
		if s.skip(']') {
			return true
		}
		if !s.skip(',') {
			return false
		}
	}
}

// object reads a JSON object as it stands, as json.RawMessage does.
func (s *lineScanner) object(l *resourceLine) bool {
	s.ws()
	if s.i == len(s.b) || s.b[s.i] != '{' {
		return false
	}
	start, depth, inString := s.i, 0, false
	for ; s.i < len(s.b); s.i++ {
		c := s.b[s.i]
		switch {
		case inString && c == '\\':
			s.i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth--; depth == 0 {
				s.i++
				raw := s.b[start:s.i]
				if !json.Valid(raw) {
					return false
				}
				l.Metadata = append(json.RawMessage(nil), raw...)
				return true
			}
		}
	}
	return false
}
