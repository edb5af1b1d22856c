package resources_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/re-factor/resources"
)

func ptr[T any](v T) *T { return &v }

func TestDownloadLinkSpec(t *testing.T) {
	tests := []struct {
		name       string
		spec       resources.DownloadLinkSpec
		want       resources.DownloadLinkSpec
		field, why string
	}{
		{"defaults", resources.DownloadLinkSpec{},
			resources.DownloadLinkSpec{ExpiresIn: time.Hour, Disposition: "attachment"}, "", ""},
		{"given", resources.DownloadLinkSpec{ExpiresIn: 7 * 24 * time.Hour, MaxDownloads: ptr(int64(5)), Disposition: "inline"},
			resources.DownloadLinkSpec{ExpiresIn: 7 * 24 * time.Hour, MaxDownloads: ptr(int64(5)), Disposition: "inline"}, "", ""},
		{"too long", resources.DownloadLinkSpec{ExpiresIn: 7*24*time.Hour + time.Second}, resources.DownloadLinkSpec{}, "expires_in", "between 1 and 604800 seconds"},
		{"too short", resources.DownloadLinkSpec{ExpiresIn: time.Millisecond}, resources.DownloadLinkSpec{}, "expires_in", "between 1 and"},
		{"no downloads", resources.DownloadLinkSpec{MaxDownloads: ptr(int64(0))}, resources.DownloadLinkSpec{}, "max_downloads", "between 1 and 1000000"},
		{"disposition", resources.DownloadLinkSpec{Disposition: "open"}, resources.DownloadLinkSpec{}, "disposition", `"attachment" or "inline"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.spec.Normalize()
			checkValidation(t, err, tt.field, tt.why)
			if err == nil && (got.ExpiresIn != tt.want.ExpiresIn || got.Disposition != tt.want.Disposition ||
				(got.MaxDownloads == nil) != (tt.want.MaxDownloads == nil)) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestUploadLinkSpec(t *testing.T) {
	const maxContent = 1000
	tests := []struct {
		name       string
		spec       resources.UploadLinkSpec
		field, why string
	}{
		{"minimal", resources.UploadLinkSpec{DirectoryPath: "/inbox"}, "", ""},
		{"path", resources.UploadLinkSpec{DirectoryPath: "inbox"}, "directory_path", `must start with "/"`},
		{"max_bytes over the server's", resources.UploadLinkSpec{DirectoryPath: "/in", MaxBytes: maxContent + 1}, "max_bytes", "at most 1000"},
		{"negative max_bytes", resources.UploadLinkSpec{DirectoryPath: "/in", MaxBytes: -1}, "max_bytes", "at least 1"},
		{"bad type", resources.UploadLinkSpec{DirectoryPath: "/in", MimeTypes: []string{"image"}}, "mime_types", `"image" is not a media type`},
		{"star type", resources.UploadLinkSpec{DirectoryPath: "/in", MimeTypes: []string{"*/png"}}, "mime_types", "is not a media type"},
		{"uploads", resources.UploadLinkSpec{DirectoryPath: "/in", MaxUploads: ptr(int64(-3))}, "max_uploads", "between 1 and"},
		{"lifetime", resources.UploadLinkSpec{DirectoryPath: "/in", ExpiresIn: 8 * 24 * time.Hour}, "expires_in", "between 1 and"},
		{"tags", resources.UploadLinkSpec{DirectoryPath: "/in", Tags: []string{"a,b"}}, "tags", `must not contain ","`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.spec.Normalize(maxContent)
			checkValidation(t, err, tt.field, tt.why)
		})
	}
	got, err := resources.UploadLinkSpec{DirectoryPath: "/in", MimeTypes: []string{"Image/*", "application/pdf", "image/*"},
		Tags: []string{" b", "a"}}.Normalize(maxContent)
	if err != nil {
		t.Fatal(err)
	}
	if got.MaxBytes != maxContent || got.ExpiresIn != time.Hour ||
		!slices.Equal(got.MimeTypes, []string{"application/pdf", "image/*"}) || !slices.Equal(got.Tags, []string{"a", "b"}) {
		t.Errorf("normal form = %+v", got)
	}
}

func TestUploadLinkChecks(t *testing.T) {
	flat := resources.UploadLink{DirectoryPath: "/in", MaxBytes: 10, MimeTypes: []string{"application/pdf", "image/*"}}
	deep := flat
	deep.AllowSubdirectories = true
	root := resources.UploadLink{DirectoryPath: "/", AllowSubdirectories: true}
	paths := []struct {
		link resources.UploadLink
		dir  string
		ok   bool
	}{
		{flat, "/in", true},
		{flat, "/in/a", false},
		{flat, "/inbox", false},
		{flat, "/", false},
		{deep, "/in", true},
		{deep, "/in/a/b", true},
		{deep, "/inbox", false},
		{deep, "/other", false},
		{root, "/", true},
		{root, "/any/where", true},
	}
	for _, tt := range paths {
		if err := tt.link.CheckPath(tt.dir); (err == nil) != tt.ok {
			t.Errorf("%s (subdirectories %v) CheckPath(%s) = %v, want ok %v", tt.link.DirectoryPath, tt.link.AllowSubdirectories, tt.dir, err, tt.ok)
		}
	}
	types := []struct {
		mediaType string
		ok        bool
	}{
		{"application/pdf", true},
		{"image/png", true},
		{"IMAGE/SVG+XML", true},
		{"text/plain;charset=utf-8", false},
		{"application/pdfx", false},
		{"imagex/png", false},
		{"", false},
	}
	for _, tt := range types {
		err := flat.CheckType(tt.mediaType)
		if (err == nil) != tt.ok {
			t.Errorf("CheckType(%q) = %v, want ok %v", tt.mediaType, err, tt.ok)
		}
		if err != nil && !errors.Is(err, resources.ErrForbidden) {
			t.Errorf("CheckType(%q) = %v, want ErrForbidden", tt.mediaType, err)
		}
	}
	if err := root.CheckType(""); err != nil {
		t.Errorf("a link without mime_types refused an unknown type: %v", err)
	}
	if err := flat.CheckSize(11); !errors.Is(err, resources.ErrTooLarge) {
		t.Errorf("CheckSize(11) = %v, want ErrTooLarge", err)
	}
	for _, n := range []int64{-1, 0, 10} {
		if err := flat.CheckSize(n); err != nil {
			t.Errorf("CheckSize(%d) = %v", n, err)
		}
	}
}
