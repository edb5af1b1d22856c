// Package store keeps resources in PostgreSQL (production) or SQLite (the
// embedded default). It knows nothing of HTTP: callers pass store types and
// get store errors back.
package store

import (
	"encoding/json"
	"time"
)

// Resource is one stored file's catalogue entry. Its JSON form is the API's
// own representation, used by import and export. Its db tags name the
// columns sqlx reads as they are; resourceRow converts the rest.
type Resource struct {
	ID                  string          `json:"id" db:"id"`
	AccountID           string          `json:"account_id" db:"account_id"`
	Name                string          `json:"name" db:"name"`
	DirectoryPath       string          `json:"directory_path" db:"directory_path"`
	MimeType            string          `json:"mime_type" db:"mime_type"`
	SHA256              string          `json:"sha256" db:"sha256"`
	OriginalURI         *string         `json:"original_uri,omitempty" db:"-"`
	ExternalID          *string         `json:"external_id,omitempty" db:"-"`
	ExternalStorageType *string         `json:"external_storage_type,omitempty" db:"-"`
	StorageBucket       string          `json:"storage_bucket" db:"storage_bucket"`
	StorageKey          string          `json:"storage_key" db:"storage_key"`
	SizeBytes           int64           `json:"size_bytes" db:"size_bytes"`
	Tags                []string        `json:"tags" db:"-"`
	Metadata            json.RawMessage `json:"metadata,omitempty" db:"-"`
	CreatedBy           *string         `json:"created_by,omitempty" db:"-"`
	CreatedAt           time.Time       `json:"created_at" db:"-"`
	UpdatedAt           time.Time       `json:"updated_at" db:"-"`
}

// ResourceFilter selects one page of an account's resources. AccountID is
// required; every other field narrows the result when set.
type ResourceFilter struct {
	AccountID       string
	Tags            []string // all must be present (already split, trimmed, deduplicated)
	DirectoryPrefix string   // literal prefix of directory_path
	CreatedAfter    *time.Time
	CreatedBefore   *time.Time
	Ascending       bool // created_at, then id; descending when false
	Page            int64
	PageSize        int64
	// Cursor, when set, is a ResourcePage.NextCursor from the same filter and
	// page size: the page after it is returned, and Page is ignored.
	Cursor string
}

// ResourcePage is one page of a list and the number of resources matching
// the filter across all pages.
type ResourcePage struct {
	Items []Resource
	Total int64
	// Page is the page number of Items: the filter's, or the one after a
	// cursor's.
	Page int64
	// NextCursor leads to the next page in O(page) time at any depth; it is
	// empty on the last page.
	NextCursor string
}
