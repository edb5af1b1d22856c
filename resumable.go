package resources

import "time"

// Upload is a resumable upload (tus) on its way to becoming a resource: its
// fields are checked when it is created, its bytes arrive over any number
// of requests to any replica, and when the last byte is stored it becomes
// the resource whose id is its own.
type Upload struct {
	ID        string
	AccountID string
	// Fields are the resource's fields in normal form, an upload link's
	// tags among the tags.
	Fields Fields
	// MimeType is the media type given, "" when the bytes are sniffed.
	MimeType string
	// SHA256 is the lowercase hex SHA-256 the client expects, "" for none.
	SHA256 string
	// LinkID is the upload link whose use the upload took, "" for none.
	LinkID    string
	CreatedBy *string
	// Length is the number of bytes the upload will hold, -1 until the
	// client declares it.
	Length int64
	// Offset is how many bytes are stored.
	Offset int64
	// State is where the stored bytes and their hash stand, as the blob
	// store writes and reads it; opaque to everything else.
	State     []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	// Completed is when the upload became its resource; zero before.
	Completed time.Time
}

// Done reports whether the upload became its resource.
func (u Upload) Done() bool { return !u.Completed.IsZero() }
