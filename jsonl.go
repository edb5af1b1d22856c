package resources

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"
)

// resourceLine is the JSON form of a Resource as read from an import file.
// Pointers tell a missing (or null) field from a zero one.
type resourceLine struct {
	ID                  *string         `json:"id"`
	AccountID           *string         `json:"account_id"`
	Name                *string         `json:"name"`
	DirectoryPath       *string         `json:"directory_path"`
	MimeType            *string         `json:"mime_type"`
	SHA256              *string         `json:"sha256"`
	OriginalURI         *string         `json:"original_uri"`
	ExternalID          *string         `json:"external_id"`
	ExternalStorageType *string         `json:"external_storage_type"`
	StorageBucket       *string         `json:"storage_bucket"`
	StorageKey          *string         `json:"storage_key"`
	SizeBytes           *int64          `json:"size_bytes"`
	Tags                []string        `json:"tags"`
	Metadata            json.RawMessage `json:"metadata"`
	CreatedBy           *string         `json:"created_by"`
	CreatedAt           *string         `json:"created_at"`
	UpdatedAt           *string         `json:"updated_at"`
}

// DecodeLine reads one JSON Lines record in the API representation and
// validates it. Unknown fields, missing required fields, wrong JSON types
// and invalid values give errors matching ErrInvalid that name the field;
// null in an optional field means absent. Timestamps must be RFC 3339 with a
// zone; they are converted to UTC and truncated to microseconds. Tags are
// normalized as NormalizeTags does, metadata compacted.
func DecodeLine(line []byte) (Resource, error) {
	var l resourceLine
	if !scanLine(line, &l) {
		l = resourceLine{}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return Resource{}, decodeError(err)
		}
		if rest := bytes.TrimSpace(line[dec.InputOffset():]); len(rest) > 0 {
			return Resource{}, &Error{Kind: ErrInvalid, Reason: "unexpected data after the JSON object"}
		}
	}
	r, err := l.resource()
	if err == nil {
		err = r.validateScalars()
	}
	if err != nil {
		return Resource{}, err
	}
	return r, nil
}

func (l *resourceLine) resource() (Resource, error) {
	r := Resource{
		OriginalURI:         l.OriginalURI,
		ExternalID:          l.ExternalID,
		ExternalStorageType: l.ExternalStorageType,
		CreatedBy:           l.CreatedBy,
	}
	for _, f := range []struct {
		name string
		src  *string
		dst  *string
	}{
		{"id", l.ID, &r.ID},
		{"account_id", l.AccountID, &r.AccountID},
		{"name", l.Name, &r.Name},
		{"directory_path", l.DirectoryPath, &r.DirectoryPath},
		{"mime_type", l.MimeType, &r.MimeType},
		{"sha256", l.SHA256, &r.SHA256},
		{"storage_bucket", l.StorageBucket, &r.StorageBucket},
		{"storage_key", l.StorageKey, &r.StorageKey},
	} {
		if f.src == nil {
			return Resource{}, Invalid(f.name, "is required")
		}
		*f.dst = *f.src
	}
	if l.SizeBytes == nil {
		return Resource{}, Invalid("size_bytes", "is required")
	}
	r.SizeBytes = *l.SizeBytes
	var err error
	if r.CreatedAt, err = parseTime("created_at", l.CreatedAt); err != nil {
		return Resource{}, err
	}
	if r.UpdatedAt, err = parseTime("updated_at", l.UpdatedAt); err != nil {
		return Resource{}, err
	}
	if r.Tags, err = NormalizeTags(l.Tags); err != nil {
		return Resource{}, err
	}
	if r.Metadata, err = ValidateMetadata(l.Metadata); err != nil {
		return Resource{}, err
	}
	return r, nil
}

func parseTime(field string, s *string) (time.Time, error) {
	if s == nil {
		return time.Time{}, Invalid(field, "is required")
	}
	// RFC3339Nano parses any number of fractional digits and requires a zone.
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return time.Time{}, Invalid(field, "must be an RFC 3339 timestamp with a time zone")
	}
	return Timestamp(t), nil
}

// decodeError names the field encoding/json complained about.
func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field, _, _ := strings.Cut(typeErr.Field, ".")
		switch field {
		case "":
			return &Error{Kind: ErrInvalid, Reason: "a line must be a JSON object"}
		case "size_bytes":
			return Invalid(field, "must be an integer")
		case "tags":
			return Invalid(field, "must be an array of strings")
		}
		return Invalid(field, "must be a string")
	}
	// encoding/json reports an unknown field only as text: `json: unknown
	// field "name"`.
	if q, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if name, uerr := strconv.Unquote(q); uerr == nil {
			return Invalid(name, "unknown field")
		}
	}
	return &Error{Kind: ErrInvalid, Reason: "not valid JSON", Err: err}
}

// EncodeLine writes r's JSON Lines record to w, newline included, in the
// form DecodeLine reads: tags always present ([] when empty), and <, > and &
// as themselves.
func EncodeLine(w io.Writer, r Resource) error {
	if r.Tags == nil {
		r.Tags = []string{}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// MaxLineBytes bounds one JSON Lines record: metadata may be 64 KiB, and
// escaping can double it.
const MaxLineBytes = 1 << 20

// ReadLines yields the resource of each non-blank line of r, decoded by
// DecodeLine. An error names the line it came from and ends the sequence.
func ReadLines(r io.Reader) iter.Seq2[Resource, error] {
	return func(yield func(Resource, error) bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), MaxLineBytes)
		for line := 1; sc.Scan(); line++ {
			if len(sc.Bytes()) == 0 {
				continue
			}
			res, err := DecodeLine(sc.Bytes())
			if err != nil {
				yield(Resource{}, fmt.Errorf("line %d: %w", line, err))
				return
			}
			if !yield(res, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield(Resource{}, fmt.Errorf("reading input: %w", err))
		}
	}
}
