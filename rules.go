package resources

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Limits from the API contract (openapi.yaml states each one). Text
// lengths count characters (Unicode code points), as JSON Schema's
// maxLength does, so that a validator generated from the spec accepts
// exactly what the server does; they once counted UTF-8 bytes, and every
// value accepted then is accepted now.
const (
	MaxDirectoryPathChars = 1024
	MaxNameChars          = 255
	MaxTagChars           = 64
	MaxTags               = 50
	MaxMetadataBytes      = 64 << 10 // compact JSON
	MaxMetadataDepth      = 1000     // the object itself is level 1; SQLite's JSON functions allow no more
	MaxPageSize           = 100
)

// ExternalStorageTypes are the values external_storage_type may take.
var ExternalStorageTypes = []string{"s3", "gcs", "azure_blob"}

// ValidateDirectoryPath reports whether p is an absolute, clean directory
// path: it starts with "/", has no empty, "." or ".." segments, no trailing
// "/" (except the root itself), no control characters and at most
// MaxDirectoryPathChars characters.
func ValidateDirectoryPath(p string) error {
	const field = "directory_path"
	if err := checkText(field, p, MaxDirectoryPathChars); err != nil {
		return err
	}
	if !strings.HasPrefix(p, "/") {
		return Invalid(field, `must start with "/"`)
	}
	if p == "/" {
		return nil
	}
	if strings.HasSuffix(p, "/") {
		return Invalid(field, `must not end with "/"`)
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		switch seg {
		case "":
			return Invalid(field, "must not contain empty segments")
		case ".", "..":
			return Invalid(field, `must not contain "." or ".." segments`)
		}
	}
	return nil
}

// ValidateName reports whether n is a usable resource name: 1 to 255
// characters, no "/" and no control characters.
func ValidateName(n string) error {
	if err := checkText("name", n, MaxNameChars); err != nil {
		return err
	}
	if strings.Contains(n, "/") {
		return Invalid("name", `must not contain "/"`)
	}
	return nil
}

// checkText checks what every path-like string shares: present, valid
// UTF-8, no longer than max characters, no control characters.
func checkText(field, s string, max int) error {
	switch {
	case s == "":
		return Invalid(field, "is required")
	case len(s) > max && utf8.RuneCountInString(s) > max:
		return Invalid(field, "must be at most %d characters long", max)
	case !utf8.ValidString(s):
		return Invalid(field, "must be valid UTF-8")
	case strings.ContainsFunc(s, unicode.IsControl):
		return Invalid(field, "must not contain control characters")
	}
	return nil
}

// NormalizeTags trims each tag (of Unicode white space), drops duplicates
// and sorts the result in byte order. It fails on more than MaxTags tags as
// given (the spec's maxItems, which counts before duplicates are dropped),
// and on an empty or over-long tag or one containing "," or a control
// character. The result is never nil.
func NormalizeTags(tags []string) ([]string, error) {
	if err := checkTagCount(tags); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if err := validateTag(t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// checkTagCount applies the spec's maxItems to a tag list.
func checkTagCount(tags []string) error {
	if len(tags) > MaxTags {
		return Invalid("tags", "must have at most %d items", MaxTags)
	}
	return nil
}

func validateTag(t string) error {
	switch {
	case t == "":
		return Invalid("tags", "a tag must not be empty")
	case len(t) > MaxTagChars && utf8.RuneCountInString(t) > MaxTagChars:
		return Invalid("tags", "tag %q is longer than %d characters", t, MaxTagChars)
	case !utf8.ValidString(t):
		return Invalid("tags", "tag %q is not valid UTF-8", t)
	case strings.Contains(t, ","):
		// A tag with a comma could never be matched by the list filter.
		return Invalid("tags", "tag %q must not contain \",\"", t)
	case strings.ContainsFunc(t, unicode.IsControl):
		return Invalid("tags", "tag %q must not contain control characters", t)
	}
	return nil
}

// ValidateMetadata checks that m is a JSON object of at most
// MaxMetadataBytes once compacted, nested at most MaxMetadataDepth levels,
// and returns it compacted. An empty m or JSON null means no metadata and
// returns nil.
func ValidateMetadata(m json.RawMessage) (json.RawMessage, error) {
	const field = "metadata"
	if len(bytes.TrimSpace(m)) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, m); err != nil {
		return nil, Invalid(field, "must be valid JSON")
	}
	c := buf.Bytes()
	switch {
	case string(c) == "null":
		return nil, nil
	case c[0] != '{':
		return nil, Invalid(field, "must be a JSON object")
	case len(c) > MaxMetadataBytes:
		return nil, Invalid(field, "must be at most %d bytes of compact JSON", MaxMetadataBytes)
	case depth(c) > MaxMetadataDepth:
		return nil, Invalid(field, "must nest at most %d levels deep", MaxMetadataDepth)
	}
	if err := checkEscapes(c); err != nil {
		return nil, err
	}
	return c, nil
}

// checkEscapes rejects \u escapes that PostgreSQL's jsonb cannot store (NUL
// and unpaired surrogates) but encoding/json lets through. c is valid JSON,
// so a backslash only occurs inside a string and "\u" has four hex digits.
func checkEscapes(c []byte) error {
	for i := 0; i < len(c); i++ {
		if c[i] != '\\' {
			continue
		}
		i++ // the escaped character
		if c[i] != 'u' {
			continue
		}
		r := hex4(c[i+1:])
		i += 4
		switch {
		case r == 0:
			return Invalid("metadata", `must not contain \u0000`)
		case !utf16.IsSurrogate(r):
		case r < 0xdc00 && bytes.HasPrefix(c[i+1:], []byte(`\u`)) && isLowSurrogate(hex4(c[i+3:])):
			i += 6
		default:
			return Invalid("metadata", "must not contain unpaired UTF-16 surrogates")
		}
	}
	return nil
}

// depth returns how deeply the arrays and objects of the valid JSON c nest.
func depth(c []byte) int {
	d, deepest, inString := 0, 0, false
	for i := 0; i < len(c); i++ {
		switch ch := c[i]; {
		case inString && ch == '\\':
			i++ // the escaped character
		case ch == '"':
			inString = !inString
		case inString:
		case ch == '[' || ch == '{':
			d++
			deepest = max(deepest, d)
		case ch == ']' || ch == '}':
			d--
		}
	}
	return deepest
}

func hex4(b []byte) rune {
	v, err := strconv.ParseUint(string(b[:4]), 16, 16)
	if err != nil {
		return -1
	}
	return rune(v)
}

func isLowSurrogate(r rune) bool { return 0xdc00 <= r && r < 0xe000 }

// Validate checks every field of r against the API contract. Tags must be
// in normal form (trimmed, no duplicates), in any order; metadata compact
// or not.
func (r *Resource) Validate() error {
	if err := cmp.Or(r.validateScalars(), validateTagSet(r.Tags)); err != nil {
		return err
	}
	_, err := ValidateMetadata(r.Metadata)
	return err
}

// validateScalars checks every field of r but its tags and metadata, which
// DecodeLine brings into normal form instead.
func (r *Resource) validateScalars() error {
	if !ValidID(r.ID) {
		return Invalid("id", "must be a UUID in lowercase canonical form")
	}
	for _, f := range []struct{ name, value string }{
		{"account_id", r.AccountID},
		{"mime_type", r.MimeType},
		{"storage_bucket", r.StorageBucket},
		{"storage_key", r.StorageKey},
	} {
		if err := checkStored(f.name, f.value, true); err != nil {
			return err
		}
	}
	if err := cmp.Or(ValidateName(r.Name), ValidateDirectoryPath(r.DirectoryPath)); err != nil {
		return err
	}
	if !isSHA256(r.SHA256) {
		return Invalid("sha256", "must be 64 lowercase hexadecimal digits")
	}
	if r.SizeBytes < 0 {
		return Invalid("size_bytes", "must not be negative")
	}
	return cmp.Or(r.validateOptional(), checkTime("created_at", r.CreatedAt), checkTime("updated_at", r.UpdatedAt))
}

// ValidID reports whether s is a resource id: a UUID in its lowercase
// canonical form, as the server makes them.
func ValidID(s string) bool {
	u, err := uuid.Parse(s)
	return err == nil && u.String() == s
}

func (r *Resource) validateOptional() error {
	for _, f := range []struct {
		name  string
		value *string
	}{
		{"original_uri", r.OriginalURI},
		{"external_id", r.ExternalID},
		{"created_by", r.CreatedBy},
	} {
		if f.value != nil {
			if err := checkStored(f.name, *f.value, false); err != nil {
				return err
			}
		}
	}
	if t := r.ExternalStorageType; t != nil && !slices.Contains(ExternalStorageTypes, *t) {
		return Invalid("external_storage_type", "must be one of %s", strings.Join(ExternalStorageTypes, ", "))
	}
	return nil
}

// checkStored checks what any stored text needs: valid UTF-8 and no NUL,
// which PostgreSQL's text type cannot hold.
func checkStored(field, s string, required bool) error {
	switch {
	case required && s == "":
		return Invalid(field, "is required")
	case !utf8.ValidString(s):
		return Invalid(field, "must be valid UTF-8")
	case strings.ContainsRune(s, 0):
		return Invalid(field, "must not contain NUL characters")
	}
	return nil
}

func validateTagSet(tags []string) error {
	if err := checkTagCount(tags); err != nil {
		return err
	}
	for _, t := range tags {
		if t != strings.TrimSpace(t) {
			return Invalid("tags", "tag %q must not start or end with spaces", t)
		}
		if err := validateTag(t); err != nil {
			return err
		}
	}
	sorted := slices.Clone(tags)
	slices.Sort(sorted)
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			return Invalid("tags", "tag %q appears twice", sorted[i])
		}
	}
	return nil
}

// checkTime requires a timestamp JSON can carry: RFC 3339 has four-digit
// years only.
func checkTime(field string, t time.Time) error {
	switch {
	case t.IsZero():
		return Invalid(field, "is required")
	case t.UTC().Year() < 1 || t.UTC().Year() > 9999:
		return Invalid(field, "must be between the years 0001 and 9999")
	}
	return nil
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
