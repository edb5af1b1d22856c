package store

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"
)

// resourceColumns are a resource row's columns, aliased r. Queries add the
// dialect's tagsColumn after them, as tags.
const resourceColumns = `r.id, r.account_id, r.name, r.directory_path, r.mime_type, r.sha256,
	r.original_uri, r.external_id, r.external_storage_type, r.storage_bucket, r.storage_key,
	r.size_bytes, r.metadata, r.created_by, r.created_at, r.updated_at`

// resourceRow is a resource as the database holds it: what sqlx scans a
// row of resourceColumns and tags into, and binds insertResource's named
// arguments from. Resource's own db tags name the columns that need no
// conversion; the fields here convert the others.
type resourceRow struct {
	Resource
	Metadata  jsonText  `db:"metadata"`
	Tags      tagList   `db:"tags"`
	CreatedAt timestamp `db:"created_at"`
	UpdatedAt timestamp `db:"updated_at"`
}

// newRow returns r's row for the engine of d. r.Metadata must be compact,
// as validate returns it.
func newRow(d dialect, r Resource) resourceRow {
	return resourceRow{Resource: r, Metadata: jsonText(r.Metadata), Tags: r.Tags,
		CreatedAt: d.timeArg(r.CreatedAt), UpdatedAt: d.timeArg(r.UpdatedAt)}
}

func (row resourceRow) resource() Resource {
	r := row.Resource
	r.Metadata, r.Tags = json.RawMessage(row.Metadata), row.Tags
	r.CreatedAt, r.UpdatedAt = row.CreatedAt.t, row.UpdatedAt.t
	return r
}

// resources converts rows to resources.
func resources[R interface{ resource() Resource }](rows []R) []Resource {
	rs := make([]Resource, len(rows))
	for i, row := range rows {
		rs[i] = row.resource()
	}
	return rs
}

// timestamp is a time as an engine stores it: timestamptz on PostgreSQL,
// integer Unix microseconds on SQLite (unixMicros). It scans either form as
// UTC; the dialect's timeArg makes one to bind.
type timestamp struct {
	t          time.Time
	unixMicros bool
}

func (s *timestamp) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		s.t = v.UTC()
	case int64:
		s.t = time.UnixMicro(v).UTC()
	default:
		return fmt.Errorf("cannot scan %T into a timestamp", src)
	}
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
	var b []byte
	switch v := src.(type) {
	case nil:
		*j = nil
		return nil
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("cannot scan %T into metadata", src)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	*j = buf.Bytes()
	return nil
}

func (j jsonText) Value() (driver.Value, error) {
	if j == nil {
		return nil, nil
	}
	return string(j), nil
}

// tagList scans the tags column, a JSON array of strings.
type tagList []string

func (l *tagList) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("cannot scan %T into tags", src)
	}
	if err := json.Unmarshal(b, (*[]string)(l)); err != nil {
		return fmt.Errorf("tags: %w", err)
	}
	return nil
}
