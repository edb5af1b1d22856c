package store

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/re-factor/resources"
)

// resourceColumns returns the select list of a resource aliased r, in the
// form resourceRow scans: timestamps as integer Unix microseconds (lib/pq
// parses timestamptz text in about 275 ns and an allocation, an integer in
// 55 ns) and tags joined by tagSep (json.Unmarshal of an array allocated per
// tag and more).
func resourceColumns(d dialect) string {
	return `r.id, r.account_id, r.name, r.directory_path, r.mime_type, r.sha256,
	r.original_uri, r.external_id, r.external_storage_type, r.storage_bucket, r.storage_key,
	r.size_bytes, r.metadata, r.created_by, ` +
		d.unixMicros("r.created_at") + ` AS created_at, ` + d.unixMicros("r.updated_at") + ` AS updated_at, ` +
		d.tagsColumn() + ` AS tags`
}

// tagSep separates the tags of the tags column. No tag contains it:
// validateTag, like the spec's Tag pattern, refuses control characters, and
// every stored tag passed it. Nor is a tag empty, so "" is no tags.
const tagSep = "\x1f"

// resourceRow is a resource as the database holds it: what sqlx scans a
// row of resourceColumns into, and binds insertResource's named arguments
// from. Its db tags name the columns; the types of the nullable, JSON,
// list and time columns convert them.
type resourceRow struct {
	ID                  string       `db:"id"`
	AccountID           string       `db:"account_id"`
	Name                string       `db:"name"`
	DirectoryPath       string       `db:"directory_path"`
	MimeType            string       `db:"mime_type"`
	SHA256              string       `db:"sha256"`
	OriginalURI         optionalText `db:"original_uri"`
	ExternalID          optionalText `db:"external_id"`
	ExternalStorageType optionalText `db:"external_storage_type"`
	StorageBucket       string       `db:"storage_bucket"`
	StorageKey          string       `db:"storage_key"`
	SizeBytes           int64        `db:"size_bytes"`
	Metadata            jsonText     `db:"metadata"`
	CreatedBy           optionalText `db:"created_by"`
	Tags                tagList      `db:"tags"`
	CreatedAt           timestamp    `db:"created_at"`
	UpdatedAt           timestamp    `db:"updated_at"`
}

// newRow returns r's row for the engine of d. r.Metadata must be compact,
// as the rules leave it.
func newRow(d dialect, r resources.Resource) resourceRow {
	return resourceRow{ID: r.ID, AccountID: r.AccountID, Name: r.Name, DirectoryPath: r.DirectoryPath,
		MimeType: r.MimeType, SHA256: r.SHA256,
		OriginalURI: optionalText{r.OriginalURI}, ExternalID: optionalText{r.ExternalID},
		ExternalStorageType: optionalText{r.ExternalStorageType},
		StorageBucket:       r.StorageBucket, StorageKey: r.StorageKey, SizeBytes: r.SizeBytes,
		Metadata: jsonText(r.Metadata), CreatedBy: optionalText{r.CreatedBy}, Tags: r.Tags,
		CreatedAt: d.timeArg(r.CreatedAt), UpdatedAt: d.timeArg(r.UpdatedAt)}
}

func (row resourceRow) resource() resources.Resource {
	return resources.Resource{ID: row.ID, AccountID: row.AccountID, Name: row.Name,
		DirectoryPath: row.DirectoryPath, MimeType: row.MimeType, SHA256: row.SHA256,
		OriginalURI: row.OriginalURI.s, ExternalID: row.ExternalID.s, ExternalStorageType: row.ExternalStorageType.s,
		StorageBucket: row.StorageBucket, StorageKey: row.StorageKey, SizeBytes: row.SizeBytes,
		Metadata: json.RawMessage(row.Metadata), CreatedBy: row.CreatedBy.s, Tags: row.Tags,
		CreatedAt: row.CreatedAt.t, UpdatedAt: row.UpdatedAt.t}
}

// readResources appends each row of rows to rs as a resource, scanning
// all of them into row (a *resourceRow, or a struct embedding one) so that
// sqlx maps the columns once and no row is allocated twice. It closes rows.
func readResources(rows *sqlx.Rows, row interface {
	fields
	resource() resources.Resource
}, rs []resources.Resource) ([]resources.Resource, error) {
	defer rows.Close()
	dest, err := destinations(rows, row)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		rs = append(rs, row.resource())
	}
	return rs, rows.Err()
}

// fields is a row type that names its own scan destinations, so that a
// page is scanned without reflection: sqlx's StructScan walked each field
// by reflection on every row and matched the columns to fields on every
// query, some 7% of the server's CPU on a page of 20 (issue 21). A struct
// that embeds a row has the row's method but not its own columns, so each
// row type with more columns defines field itself.
type fields interface {
	// field returns the destination of the column named col, or nil when
	// the row has none.
	field(col string) any
}

// destinations returns row's destination of each column of rows, in their
// order; the row is scanned into the same fields on every Next.
func destinations(rows *sqlx.Rows, row fields) ([]any, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	dest := make([]any, len(cols))
	for i, c := range cols {
		if dest[i] = row.field(c); dest[i] == nil {
			return nil, fmt.Errorf("column %q has no field in %T", c, row)
		}
	}
	return dest, nil
}

func (row *resourceRow) field(col string) any {
	switch col {
	case "id":
		return &row.ID
	case "account_id":
		return &row.AccountID
	case "name":
		return &row.Name
	case "directory_path":
		return &row.DirectoryPath
	case "mime_type":
		return &row.MimeType
	case "sha256":
		return &row.SHA256
	case "original_uri":
		return &row.OriginalURI
	case "external_id":
		return &row.ExternalID
	case "external_storage_type":
		return &row.ExternalStorageType
	case "storage_bucket":
		return &row.StorageBucket
	case "storage_key":
		return &row.StorageKey
	case "size_bytes":
		return &row.SizeBytes
	case "metadata":
		return &row.Metadata
	case "created_by":
		return &row.CreatedBy
	case "tags":
		return &row.Tags
	case "created_at":
		return &row.CreatedAt
	case "updated_at":
		return &row.UpdatedAt
	}
	return nil
}

// optionalText is a text column that may be NULL. sqlx would allocate a
// string for a *string field before every scan, NULL or not; this
// allocates only for a value.
type optionalText struct{ s *string }

func (o *optionalText) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		o.s = nil
	case string:
		o.s = &v
	case []byte:
		s := string(v)
		o.s = &s
	default:
		return fmt.Errorf("cannot scan %T into text", src)
	}
	return nil
}

func (o optionalText) Value() (driver.Value, error) {
	if o.s == nil {
		return nil, nil
	}
	return *o.s, nil
}

// timestamp is a time as an engine stores it: timestamptz on PostgreSQL,
// integer Unix microseconds on SQLite (unixMicros). It scans integer Unix
// microseconds, as resourceColumns selects it on both, as UTC; the
// dialect's timeArg makes one to bind.
type timestamp struct {
	t          time.Time
	unixMicros bool
}

func (s *timestamp) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("cannot scan %T into a timestamp", src)
	}
	s.t = time.UnixMicro(v).UTC()
	return nil
}

func (s timestamp) Value() (driver.Value, error) {
	if s.unixMicros {
		return s.t.UnixMicro(), nil
	}
	return s.t, nil
}

// jsonText is metadata: NULL when nil, bound as text (lib/pq would send
// []byte as bytea, and a STRICT SQLite table refuses a BLOB in a TEXT
// column), and scanned compact (jsonb prints spaces after ":" and ",").
type jsonText json.RawMessage

func (j *jsonText) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*j = nil
	case []byte:
		*j = compact(v)
	case string:
		*j = compact(v)
	default:
		return fmt.Errorf("cannot scan %T into metadata", src)
	}
	return nil
}

// compact returns a compact copy of the JSON text s. Text without white
// space is compact already (a space inside a string would be white space
// too): SQLite returns metadata as validate stored it, so only jsonb's
// spaced output needs compacting. Both hold only valid JSON (jsonb parses
// what it stores; validate checked SQLite's), so s is not checked again.
func compact[T string | []byte](s T) []byte {
	for i := range len(s) {
		if c := s[i]; c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			return stripSpace(make([]byte, 0, len(s)), s)
		}
	}
	// A copy: the driver may reuse a []byte's memory for the next row.
	return append([]byte(nil), s...)
}

// stripSpace appends s, valid JSON, to dst without the white space outside
// its strings: what json.Compact writes for it, in one pass without
// json.Compact's scanner (a call through it a byte), which was most of
// reading a page of metadata from jsonb (issue 21).
func stripSpace[T string | []byte](dst []byte, s T) []byte {
	inString, escaped := false, false
	for i := range len(s) {
		c := s[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

func (j jsonText) Value() (driver.Value, error) {
	if j == nil {
		return nil, nil
	}
	return string(j), nil
}

// tagList scans the tags column: tags joined by tagSep.
type tagList []string

func (l *tagList) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case []byte:
		s = string(v)
	case string:
		s = v
	default:
		return fmt.Errorf("cannot scan %T into tags", src)
	}
	if s == "" {
		*l = []string{}
		return nil
	}
	*l = strings.Split(s, tagSep)
	return nil
}
