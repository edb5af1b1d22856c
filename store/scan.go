package store

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
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
// row of resourceColumns into, and binds insertResource's named
// arguments from. Resource's own db tags name the columns that need no
// conversion; the fields here convert the others.
type resourceRow struct {
	Resource
	OriginalURI         optionalText `db:"original_uri"`
	ExternalID          optionalText `db:"external_id"`
	ExternalStorageType optionalText `db:"external_storage_type"`
	CreatedBy           optionalText `db:"created_by"`
	Metadata            jsonText     `db:"metadata"`
	Tags                tagList      `db:"tags"`
	CreatedAt           timestamp    `db:"created_at"`
	UpdatedAt           timestamp    `db:"updated_at"`
}

// newRow returns r's row for the engine of d. r.Metadata must be compact,
// as validate returns it.
func newRow(d dialect, r Resource) resourceRow {
	return resourceRow{Resource: r,
		OriginalURI: optionalText{r.OriginalURI}, ExternalID: optionalText{r.ExternalID},
		ExternalStorageType: optionalText{r.ExternalStorageType}, CreatedBy: optionalText{r.CreatedBy},
		Metadata: jsonText(r.Metadata), Tags: r.Tags,
		CreatedAt: d.timeArg(r.CreatedAt), UpdatedAt: d.timeArg(r.UpdatedAt)}
}

func (row resourceRow) resource() Resource {
	r := row.Resource
	r.OriginalURI, r.ExternalID = row.OriginalURI.s, row.ExternalID.s
	r.ExternalStorageType, r.CreatedBy = row.ExternalStorageType.s, row.CreatedBy.s
	r.Metadata, r.Tags = json.RawMessage(row.Metadata), row.Tags
	r.CreatedAt, r.UpdatedAt = row.CreatedAt.t, row.UpdatedAt.t
	return r
}

// readResources appends each row of rows to rs as a resource, scanning
// all of them into row (a *resourceRow, or a struct embedding one) so that
// sqlx maps the columns once and no row is allocated twice. It closes rows.
func readResources(rows *sqlx.Rows, row interface{ resource() Resource }, rs []Resource) ([]Resource, error) {
	defer rows.Close()
	for rows.Next() {
		if err := rows.StructScan(row); err != nil {
			return nil, err
		}
		rs = append(rs, row.resource())
	}
	return rs, rows.Err()
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
	var err error
	switch v := src.(type) {
	case nil:
		*j = nil
	case []byte:
		*j, err = compact(v)
	case string:
		*j, err = compact(v)
	default:
		return fmt.Errorf("cannot scan %T into metadata", src)
	}
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	return nil
}

// compact returns a compact copy of the JSON text s. Text without white
// space is compact already (a space inside a string would be white space
// too): SQLite returns metadata as validate stored it, so only jsonb's
// spaced output needs json.Compact.
func compact[T string | []byte](s T) ([]byte, error) {
	for i := range len(s) {
		if c := s[i]; c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			var buf bytes.Buffer
			err := json.Compact(&buf, []byte(s))
			return buf.Bytes(), err
		}
	}
	// A copy: the driver may reuse a []byte's memory for the next row.
	return append([]byte(nil), s...), nil
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
