package store

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// resourceColumns are a resource row's columns, aliased r, in the order
// scanResource reads them. Queries add tagsColumn after them.
const resourceColumns = `r.id, r.account_id, r.name, r.directory_path, r.mime_type, r.sha256,
	r.original_uri, r.external_id, r.external_storage_type, r.storage_bucket, r.storage_key,
	r.size_bytes, r.metadata, r.created_by, r.created_at, r.updated_at`

// tagsColumn returns a select-list expression: the tags of the resource
// aliased r as a JSON array in byte order, "[]" when it has none, read from
// the primary key of resource_tags.
func (db *DB) tagsColumn() string {
	if db.engine == Postgres {
		return `(SELECT coalesce(json_agg(g.tag ORDER BY g.tag), '[]')
			FROM resource_tags g WHERE g.account_id = r.account_id AND g.resource_id = r.id)`
	}
	return `(SELECT json_group_array(g.tag ORDER BY g.tag)
		FROM resource_tags g WHERE g.account_id = r.account_id AND g.resource_id = r.id)`
}

// scanResource reads resourceColumns and tagsColumn from the current row,
// after the columns lead points to.
func scanResource(rows *sql.Rows, lead ...any) (Resource, error) {
	var r Resource
	var metadata, tags []byte
	dest := append(lead, &r.ID, &r.AccountID, &r.Name, &r.DirectoryPath, &r.MimeType, &r.SHA256,
		&r.OriginalURI, &r.ExternalID, &r.ExternalStorageType, &r.StorageBucket, &r.StorageKey,
		&r.SizeBytes, &metadata, &r.CreatedBy, timestamp{&r.CreatedAt}, timestamp{&r.UpdatedAt}, &tags)
	if err := rows.Scan(dest...); err != nil {
		return Resource{}, err
	}
	if metadata != nil {
		// jsonb prints spaces after ":" and ","; the API form is compact.
		var buf bytes.Buffer
		if err := json.Compact(&buf, metadata); err != nil {
			return Resource{}, fmt.Errorf("resource %s: metadata: %w", r.ID, err)
		}
		r.Metadata = buf.Bytes()
	}
	if err := json.Unmarshal(tags, &r.Tags); err != nil {
		return Resource{}, fmt.Errorf("resource %s: tags: %w", r.ID, err)
	}
	return r, nil
}

// timestamp scans a timestamptz (PostgreSQL) or integer Unix microseconds
// (SQLite) into a UTC time.
type timestamp struct{ t *time.Time }

func (s timestamp) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*s.t = v.UTC()
	case int64:
		*s.t = time.UnixMicro(v).UTC()
	default:
		return fmt.Errorf("cannot scan %T into a timestamp", src)
	}
	return nil
}
