package resources

import (
	"fmt"
	"mime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Links hand a resource to someone without a token (a download link), or
// let someone without an account add resources to one folder (an upload
// link). A link is a random token the holder keeps; the server keeps only
// its hash, so what a link allows is decided by the row it finds.

// Limits of links (openapi.yaml states each one).
const (
	DefaultLinkLifetime = time.Hour
	MaxLinkLifetime     = 7 * 24 * time.Hour
	MaxLinkUses         = 1_000_000 // max_downloads, max_uploads
	MaxLinkMimeTypes    = 32
)

// The dispositions a download link serves its bytes with.
const (
	Attachment = "attachment"
	Inline     = "inline"
)

// DownloadLink lets its holder download one resource's bytes without a
// token until it expires, is used up or is revoked.
type DownloadLink struct {
	ID           string
	AccountID    string
	ResourceID   string
	Disposition  string // Attachment or Inline
	MaxDownloads *int64 // nil: no limit
	Downloads    int64  // responses that sent bytes so far
	CreatedBy    *string
	CreatedAt    time.Time
	ExpiresAt    time.Time
}

// DownloadLinkSpec is what a client asks of a new download link; zero
// values take the defaults.
type DownloadLinkSpec struct {
	ExpiresIn    time.Duration // default DefaultLinkLifetime
	MaxDownloads *int64
	Disposition  string // default Attachment
}

// Normalize checks s against the rules and fills in the defaults.
func (s DownloadLinkSpec) Normalize() (DownloadLinkSpec, error) {
	var err error
	if s.ExpiresIn, err = linkLifetime(s.ExpiresIn); err != nil {
		return DownloadLinkSpec{}, err
	}
	if err := checkUses("max_downloads", s.MaxDownloads); err != nil {
		return DownloadLinkSpec{}, err
	}
	switch s.Disposition {
	case "":
		s.Disposition = Attachment
	case Attachment, Inline:
	default:
		return DownloadLinkSpec{}, Invalid("disposition", "must be %q or %q", Attachment, Inline)
	}
	return s, nil
}

// UploadLink lets its holder create resources in one folder of its
// account, within its rules, without a token of the account's.
type UploadLink struct {
	ID                  string
	AccountID           string
	DirectoryPath       string
	AllowSubdirectories bool     // beneath DirectoryPath too, not only in it
	MaxBytes            int64    // per file
	MimeTypes           []string // "type/subtype" or "type/*", lower case; empty: any
	MaxUploads          *int64   // nil: no limit
	Uploads             int64    // uses taken so far, by uploads done or under way
	Tags                []string // every resource it creates carries them
	CreatedBy           *string
	CreatedAt           time.Time
	ExpiresAt           time.Time
}

// Subject is the created_by of the resources l creates.
func (l UploadLink) Subject() string { return "upload-link:" + l.ID }

// CheckPath refuses a directory_path outside l's folder.
func (l UploadLink) CheckPath(dir string) error {
	inside := dir == l.DirectoryPath ||
		l.AllowSubdirectories && strings.HasPrefix(dir, strings.TrimSuffix(l.DirectoryPath, "/")+"/")
	if inside {
		return nil
	}
	if l.AllowSubdirectories {
		return forbidden("directory_path", "must be %s or beneath it for this upload link", l.DirectoryPath)
	}
	return forbidden("directory_path", "must be %s for this upload link", l.DirectoryPath)
}

// CheckType refuses content whose media type (with or without parameters;
// "" for unknown) l does not allow.
func (l UploadLink) CheckType(mediaType string) error {
	if len(l.MimeTypes) == 0 {
		return nil
	}
	mt, _, err := mime.ParseMediaType(mediaType)
	if err == nil {
		for _, allowed := range l.MimeTypes {
			if mt == allowed || strings.HasSuffix(allowed, "/*") && strings.HasPrefix(mt, strings.TrimSuffix(allowed, "*")) {
				return nil
			}
		}
	}
	if mediaType == "" {
		return forbidden("content", "must declare its media type, one of %s, for this upload link", strings.Join(l.MimeTypes, ", "))
	}
	return forbidden("content", "media type %s is not one of %s, which this upload link accepts", mediaType, strings.Join(l.MimeTypes, ", "))
}

// forbidden is the error for a request that is valid but outside what an
// upload link permits: a credential's limit (403), not a malformed request.
func forbidden(field, format string, args ...any) *Error {
	return &Error{Kind: ErrForbidden, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// CheckSize refuses a declared size over l's MaxBytes; size < 0 is unknown.
func (l UploadLink) CheckSize(size int64) error {
	if size > l.MaxBytes {
		return &Error{Kind: ErrTooLarge, Reason: tooLargeForLink(l.MaxBytes)}
	}
	return nil
}

func tooLargeForLink(max int64) string {
	return "content is larger than " + strconv.FormatInt(max, 10) + " bytes, the most this upload link accepts"
}

// TooLarge is the error for content found, while it streams, to be larger
// than l accepts.
func (l UploadLink) TooLarge(cause error) *Error {
	return &Error{Kind: ErrTooLarge, Reason: tooLargeForLink(l.MaxBytes), Err: cause}
}

// UploadLinkSpec is what a client asks of a new upload link.
type UploadLinkSpec struct {
	DirectoryPath       string
	AllowSubdirectories bool
	MaxBytes            int64 // 0: the server's largest content
	MimeTypes           []string
	MaxUploads          *int64
	ExpiresIn           time.Duration // default DefaultLinkLifetime
	Tags                []string
}

// Normalize checks s against the rules, with maxContent the most bytes the
// server accepts for any resource, and returns it in normal form: defaults
// filled in, media types lower case, sorted and without duplicates, tags as
// NormalizeTags leaves them.
func (s UploadLinkSpec) Normalize(maxContent int64) (UploadLinkSpec, error) {
	if err := ValidateDirectoryPath(s.DirectoryPath); err != nil {
		return UploadLinkSpec{}, err
	}
	switch {
	case s.MaxBytes == 0:
		s.MaxBytes = maxContent
	case s.MaxBytes < 0:
		return UploadLinkSpec{}, Invalid("max_bytes", "must be at least 1")
	case s.MaxBytes > maxContent:
		return UploadLinkSpec{}, Invalid("max_bytes", "must be at most %d, the server's MAX_CONTENT_BYTES", maxContent)
	}
	var err error
	if s.MimeTypes, err = normalizeMimeTypes(s.MimeTypes); err != nil {
		return UploadLinkSpec{}, err
	}
	if err := checkUses("max_uploads", s.MaxUploads); err != nil {
		return UploadLinkSpec{}, err
	}
	if s.ExpiresIn, err = linkLifetime(s.ExpiresIn); err != nil {
		return UploadLinkSpec{}, err
	}
	if s.Tags, err = NormalizeTags(s.Tags); err != nil {
		return UploadLinkSpec{}, err
	}
	return s, nil
}

// normalizeMimeTypes checks each pattern, "type/subtype" or "type/*", and
// returns them lower case, sorted and without duplicates; never nil.
func normalizeMimeTypes(patterns []string) ([]string, error) {
	if len(patterns) > MaxLinkMimeTypes {
		return nil, Invalid("mime_types", "must have at most %d items", MaxLinkMimeTypes)
	}
	out := make([]string, 0, len(patterns))
	for _, p := range patterns {
		p = strings.ToLower(p)
		typ, sub, ok := strings.Cut(p, "/")
		if !ok || !isToken(typ) || sub != "*" && !isToken(sub) {
			return nil, Invalid("mime_types", "%q is not a media type such as image/png, or a family such as image/*", p)
		}
		out = append(out, p)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// isToken reports whether s is an RFC 2045 token, as media types are made of.
func isToken(s string) bool {
	if s == "" || len(s) > 127 {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=*`, c) >= 0 {
			return false
		}
	}
	return true
}

// linkLifetime applies the default and the bounds to a link's expires_in.
func linkLifetime(d time.Duration) (time.Duration, error) {
	switch {
	case d == 0:
		return DefaultLinkLifetime, nil
	case d < time.Second || d > MaxLinkLifetime:
		return 0, Invalid("expires_in", "must be between 1 and %d seconds", int64(MaxLinkLifetime/time.Second))
	}
	return d, nil
}

func checkUses(field string, n *int64) error {
	if n != nil && (*n < 1 || *n > MaxLinkUses) {
		return Invalid(field, "must be between 1 and %d", MaxLinkUses)
	}
	return nil
}
