package server

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/gen"
)

// The answers that carry resources are written here without reflection:
// they are most of what the API serves, and encoding/json's reflection over
// gen.Resource cost a tenth of a list request's CPU. Each writes exactly
// the bytes the generated response types would (gen.Resource and
// gen.ListResources200JSONResponse through json.Encoder, HTML escaping and
// final newline included); TestResourceJSONMatchesGenerated holds them to
// that over random resources, so the spec stays the one source of the
// fields, their names and their order.

// resourcePage is the list's 200 answer.
type resourcePage struct {
	items                 []resources.Resource
	total, page, pageSize int64
	nextCursor            string // omitted when ""
}

func (p resourcePage) VisitListResourcesResponse(w http.ResponseWriter) error {
	return writeJSON(w, func(b []byte) ([]byte, error) {
		b = append(b, `{"items":[`...)
		for i := range p.items {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendResource(b, &p.items[i]); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
		if p.nextCursor != "" {
			b = append(b, `,"next_cursor":`...)
			b = appendString(b, p.nextCursor)
		}
		b = append(b, `,"page":`...)
		b = strconv.AppendInt(b, p.page, 10)
		b = append(b, `,"page_size":`...)
		b = strconv.AppendInt(b, p.pageSize, 10)
		b = append(b, `,"total":`...)
		b = strconv.AppendInt(b, p.total, 10)
		return append(b, '}'), nil
	})
}

// resourceBody is the 200 answer of the operations that return one
// resource.
type resourceBody struct{ r *resources.Resource }

func (rb resourceBody) VisitGetResourceResponse(w http.ResponseWriter) error    { return rb.write(w) }
func (rb resourceBody) VisitUpdateResourceResponse(w http.ResponseWriter) error { return rb.write(w) }
func (rb resourceBody) VisitCreateResourceResponse(w http.ResponseWriter) error { return rb.write(w) }

func (rb resourceBody) write(w http.ResponseWriter) error {
	return writeJSON(w, func(b []byte) ([]byte, error) { return appendResource(b, rb.r) })
}

// jsonBuffers keeps the answers' buffers between requests; a list page of
// 20 resources is about 10 kB.
var jsonBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// maxPooledJSON is the largest buffer put back in jsonBuffers, so that one
// huge answer does not stay allocated.
const maxPooledJSON = 256 << 10

// writeJSON writes the 200 answer that appendBody appends to its buffer.
// The buffer goes back to the pool once written: the response writer (or
// the compressor in front of it) has copied what it keeps.
func writeJSON(w http.ResponseWriter, appendBody func([]byte) ([]byte, error)) error {
	bp := jsonBuffers.Get().(*[]byte)
	b, err := appendBody((*bp)[:0])
	if err != nil {
		jsonBuffers.Put(bp)
		return err
	}
	b = append(b, '\n') // as json.Encoder ends every value
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(b)
	if cap(b) <= maxPooledJSON {
		*bp = b
		jsonBuffers.Put(bp)
	}
	return err
}

// appendResource appends r in its API form: fields in the order of
// gen.Resource's (alphabetical), optional ones omitted when nil, tags
// always present, times in UTC.
func appendResource(b []byte, r *resources.Resource) ([]byte, error) {
	id, err := uuid.Parse(r.ID)
	if err != nil {
		return nil, fmt.Errorf("stored resource id %q: %w", r.ID, err)
	}
	b = append(b, `{"account_id":`...)
	b = appendString(b, r.AccountID)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, r.CreatedAt)
	if r.CreatedBy != nil {
		b = append(b, `,"created_by":`...)
		b = appendString(b, *r.CreatedBy)
	}
	b = append(b, `,"directory_path":`...)
	b = appendString(b, r.DirectoryPath)
	if r.ExternalID != nil {
		b = append(b, `,"external_id":`...)
		b = appendString(b, *r.ExternalID)
	}
	if r.ExternalStorageType != nil {
		b = append(b, `,"external_storage_type":`...)
		b = appendString(b, *r.ExternalStorageType)
	}
	b = append(b, `,"id":"`...)
	b = appendUUID(b, id)
	b = append(b, '"')
	if len(r.Metadata) > 0 {
		b = append(b, `,"metadata":`...)
		if b, err = appendRawJSON(b, r.Metadata); err != nil {
			return nil, fmt.Errorf("stored resource %s: metadata: %w", r.ID, err)
		}
	}
	b = append(b, `,"mime_type":`...)
	b = appendString(b, r.MimeType)
	b = append(b, `,"name":`...)
	b = appendString(b, r.Name)
	if r.OriginalURI != nil {
		b = append(b, `,"original_uri":`...)
		b = appendString(b, *r.OriginalURI)
	}
	b = append(b, `,"sha256":`...)
	b = appendString(b, r.SHA256)
	b = append(b, `,"size_bytes":`...)
	b = strconv.AppendInt(b, r.SizeBytes, 10)
	b = append(b, `,"storage_bucket":`...)
	b = appendString(b, r.StorageBucket)
	b = append(b, `,"storage_key":`...)
	b = appendString(b, r.StorageKey)
	b = append(b, `,"tags":[`...)
	for i, t := range r.Tags {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, t)
	}
	b = append(b, `],"updated_at":`...)
	b = appendTime(b, r.UpdatedAt)
	return append(b, '}'), nil
}

// appendTime writes t in UTC as time.Time's MarshalJSON does.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendUUID writes id in its canonical lower-case form.
func appendUUID(b []byte, id uuid.UUID) []byte {
	var s [36]byte
	hex.Encode(s[0:8], id[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], id[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], id[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], id[8:10])
	s[23] = '-'
	hex.Encode(s[24:], id[10:])
	return append(b, s[:]...)
}

// appendRawJSON writes a JSON value as encoding/json writes a
// json.RawMessage: compact, with <, >, &, U+2028 and U+2029 escaped.
// Stored metadata is already compact, so it is usually copied as it is.
func appendRawJSON(b, raw []byte) ([]byte, error) {
	if !json.Valid(raw) {
		return nil, fmt.Errorf("not valid JSON: %.40q", raw)
	}
	if !bytes.ContainsAny(raw, " \t\r\n<>&\u2028\u2029") {
		return append(b, raw...), nil
	}
	var compact, escaped bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, err
	}
	json.HTMLEscape(&escaped, compact.Bytes())
	return append(b, escaped.Bytes()...), nil
}

// appendString writes s as a JSON string as encoding/json does by default:
// <, >, & and U+2028/U+2029 escaped as \u sequences, other control
// characters too unless they have a short escape, invalid UTF-8 replaced by
// \ufffd.
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

var (
	_ gen.ListResourcesResponseObject  = resourcePage{}
	_ gen.GetResourceResponseObject    = resourceBody{}
	_ gen.UpdateResourceResponseObject = resourceBody{}
	_ gen.CreateResourceResponseObject = resourceBody{}
)
