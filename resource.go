// Package resources is the domain of the re-factor resources API: what a
// resource is, the rules its fields follow, what a list asks for and gets
// back, and the errors a client can act on. It imports nothing of the
// project's own. The lifecycle that joins the catalogue to the bytes is
// package catalog; storage (store, blobstore) and HTTP (server) speak the
// types defined here. docs/architecture.md draws the whole picture.
package resources

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Resource is one stored file's catalogue entry. Its JSON form is the API's
// own representation, the one the JSON Lines of import and export carry.
type Resource struct {
	ID                  string          `json:"id"`
	AccountID           string          `json:"account_id"`
	Name                string          `json:"name"`
	DirectoryPath       string          `json:"directory_path"`
	MimeType            string          `json:"mime_type"`
	SHA256              string          `json:"sha256"`
	OriginalURI         *string         `json:"original_uri,omitempty"`
	ExternalID          *string         `json:"external_id,omitempty"`
	ExternalStorageType *string         `json:"external_storage_type,omitempty"`
	StorageBucket       string          `json:"storage_bucket"`
	StorageKey          string          `json:"storage_key"`
	SizeBytes           int64           `json:"size_bytes"`
	Tags                []string        `json:"tags"`
	Metadata            json.RawMessage `json:"metadata,omitempty"`
	CreatedBy           *string         `json:"created_by,omitempty"`
	CreatedAt           time.Time       `json:"created_at"`
	UpdatedAt           time.Time       `json:"updated_at"`
}

// Fields are what a client says about a new resource; the server decides
// the rest (id, bytes, hash, size, times).
type Fields struct {
	Name          string
	DirectoryPath string
	// URI, when set, is where the server fetches the content from; the
	// resource keeps it as original_uri.
	URI      *string
	Tags     []string
	Metadata json.RawMessage // nil for none
}

// Normalize checks f against the rules and returns it in normal form: tags
// trimmed, deduplicated and sorted, metadata compact (nil for none). The
// error names the first field at fault.
func (f Fields) Normalize() (Fields, error) {
	if err := ValidateName(f.Name); err != nil {
		return Fields{}, err
	}
	if err := ValidateDirectoryPath(f.DirectoryPath); err != nil {
		return Fields{}, err
	}
	var err error
	if f.Tags, err = NormalizeTags(f.Tags); err != nil {
		return Fields{}, err
	}
	if f.Metadata, err = ValidateMetadata(f.Metadata); err != nil {
		return Fields{}, err
	}
	return f, nil
}

// Update lists the fields an update changes; nil leaves a field as it is.
// Metadata replaces the stored object whole.
type Update struct {
	Name          *string
	DirectoryPath *string
	Metadata      json.RawMessage
}

// Normalize checks u against the rules and returns it with its metadata
// compact. The error names the first field at fault.
func (u Update) Normalize() (Update, error) {
	if u.Name != nil {
		if err := ValidateName(*u.Name); err != nil {
			return Update{}, err
		}
	}
	if u.DirectoryPath != nil {
		if err := ValidateDirectoryPath(*u.DirectoryPath); err != nil {
			return Update{}, err
		}
	}
	if u.Metadata != nil {
		m, err := ValidateMetadata(u.Metadata)
		if err != nil {
			return Update{}, err
		}
		// JSON null stays: it clears the metadata, where nil leaves it.
		if u.Metadata = m; m == nil {
			u.Metadata = json.RawMessage("null")
		}
	}
	return u, nil
}

// Apply writes u, in normal form, into r and stamps it updated at now.
func (u Update) Apply(r *Resource, now time.Time) {
	if u.Name != nil {
		r.Name = *u.Name
	}
	if u.DirectoryPath != nil {
		r.DirectoryPath = *u.DirectoryPath
	}
	switch {
	case string(u.Metadata) == "null":
		r.Metadata = nil
	case u.Metadata != nil:
		r.Metadata = u.Metadata
	}
	r.UpdatedAt = Timestamp(now)
}

// Timestamp is t as a resource keeps it: UTC, to the microsecond, which is
// what both databases store.
func Timestamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Filter selects one page of an account's resources. AccountID is
// required; every other field narrows the result when set.
type Filter struct {
	AccountID       string
	Tags            []string // all must be present (as ParseTagFilter returns them)
	DirectoryPrefix string   // literal prefix of directory_path
	CreatedAfter    *time.Time
	CreatedBefore   *time.Time
	Ascending       bool // created_at, then id; descending when false
	Page            int64
	PageSize        int64
	// Cursor, when set, is a Page.NextCursor from the same filter and page
	// size: the page after it is returned, and Page is ignored.
	Cursor string
}

// Validate checks what a list needs to be asked: an account, a page from 1
// and a page size from 1 to MaxPageSize.
func (f Filter) Validate() error {
	switch {
	case f.AccountID == "":
		return Invalid("account_id", "is required")
	case f.Page < 1:
		return Invalid("page", "must be at least 1")
	case f.PageSize < 1 || f.PageSize > MaxPageSize:
		return Invalid("page_size", "must be between 1 and %d", MaxPageSize)
	}
	return nil
}

// ParseTagFilter reads a list's tag filter, "a,b": split on ",", trim, drop
// empty pieces and duplicates. It never fails: a tag no resource could
// carry simply matches nothing.
func ParseTagFilter(s string) []string {
	var tags []string
	for t := range strings.SplitSeq(s, ",") {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return tags
}

// Page is one page of a list and the number of resources matching the
// filter across all pages.
type Page struct {
	Items []Resource
	Total int64
	// Page is the page number of Items: the filter's, or the one after a
	// cursor's.
	Page int64
	// NextCursor leads to the next page in O(page) time at any depth; it is
	// empty on the last page.
	NextCursor string
}
