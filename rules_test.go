package resources_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/re-factor/resources"
)

// checkValidation fails unless err is nil when wantReason is "", or a
// resources.ErrInvalid *Error for field whose reason contains wantReason.
func checkValidation(t *testing.T, err error, field, wantReason string) {
	t.Helper()
	if wantReason == "" {
		if err != nil {
			t.Errorf("got %v, want nil", err)
		}
		return
	}
	var verr *resources.Error
	if !errors.As(err, &verr) || !errors.Is(err, resources.ErrInvalid) {
		t.Fatalf("got %v, want an ErrInvalid *Error", err)
	}
	if verr.Field != field || !strings.Contains(verr.Reason, wantReason) {
		t.Errorf("got %q, want field %s and a reason containing %q", err, field, wantReason)
	}
}

func TestValidationErrorMessage(t *testing.T) {
	err := resources.ValidateDirectoryPath("docs")
	if got, want := err.Error(), `directory_path: must start with "/"`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestValidateText checks the rules of the path-like fields: their
// characters, their length in characters, and what each says.
func TestValidateText(t *testing.T) {
	tests := []struct {
		field      string
		rule       func(string) error
		value      string
		wantReason string
	}{
		{"directory_path", resources.ValidateDirectoryPath, "/", ""},
		{"directory_path", resources.ValidateDirectoryPath, "/docs", ""},
		{"directory_path", resources.ValidateDirectoryPath, "/docs/2024/ünïcode %_*\\", ""},
		{"directory_path", resources.ValidateDirectoryPath, "/" + strings.Repeat("a", 1023), ""},
		{"directory_path", resources.ValidateDirectoryPath, "/" + strings.Repeat("a", 1024), "at most 1024 characters"},
		{"directory_path", resources.ValidateDirectoryPath, "/" + strings.Repeat("é", 1023), ""}, // 2,047 bytes: characters count
		{"directory_path", resources.ValidateDirectoryPath, "/" + strings.Repeat("😀", 1023), ""}, // 4,093 bytes
		{"directory_path", resources.ValidateDirectoryPath, "/" + strings.Repeat("😀", 1024), "at most 1024 characters"},
		{"directory_path", resources.ValidateDirectoryPath, "", "is required"},
		{"directory_path", resources.ValidateDirectoryPath, "docs", `must start with "/"`},
		{"directory_path", resources.ValidateDirectoryPath, "/docs/", `must not end with "/"`},
		{"directory_path", resources.ValidateDirectoryPath, "//docs", "empty segments"},
		{"directory_path", resources.ValidateDirectoryPath, "/docs//a", "empty segments"},
		{"directory_path", resources.ValidateDirectoryPath, "/docs/./a", `"." or ".."`},
		{"directory_path", resources.ValidateDirectoryPath, "/docs/..", `"." or ".."`},
		{"directory_path", resources.ValidateDirectoryPath, "/docs/.hidden", ""},
		{"directory_path", resources.ValidateDirectoryPath, "/do\ncs", "control characters"},
		{"directory_path", resources.ValidateDirectoryPath, "/do\u0085cs", "control characters"},
		{"directory_path", resources.ValidateDirectoryPath, "/do\xffcs", "valid UTF-8"},
		{"name", resources.ValidateName, "a.txt", ""},
		{"name", resources.ValidateName, "..", ""},
		{"name", resources.ValidateName, strings.Repeat("é", 128), ""}, // 256 bytes: characters count
		{"name", resources.ValidateName, strings.Repeat("😀", 255), ""}, // 1,020 bytes
		{"name", resources.ValidateName, strings.Repeat("😀", 256), "at most 255 characters"},
		{"name", resources.ValidateName, "", "is required"},
		{"name", resources.ValidateName, "a/b", `must not contain "/"`},
		{"name", resources.ValidateName, "a\tb", "control characters"},
		{"name", resources.ValidateName, "a\x00b", "control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.field+"/"+tt.value, func(t *testing.T) {
			checkValidation(t, tt.rule(tt.value), tt.field, tt.wantReason)
		})
	}
}

func TestNormalizeTags(t *testing.T) {
	many := make([]string, 51)
	for i := range many {
		many[i] = string(rune('A' + i))
	}
	tests := []struct {
		name       string
		tags       []string
		want       []string
		wantReason string
	}{
		{"nil", nil, []string{}, ""},
		{"sorted by bytes, deduplicated, trimmed", []string{" b", "a ", "B", "b", "ä"}, []string{"B", "a", "b", "ä"}, ""},
		{"fifty with duplicates", append(slices.Clone(many[:25]), many[:25]...), many[:25], ""},
		{"fifty-one as sent, fewer after dedupe", append(slices.Clone(many[:26]), many[:25]...), nil, "at most 50 items"},
		{"fifty-one", many, nil, "at most 50 items"},
		{"white space trimmed", []string{"\t a\u3000", "\u00a0b\n"}, []string{"a", "b"}, ""},
		{"empty", []string{"a", "  "}, nil, "must not be empty"},
		{"64 characters", []string{strings.Repeat("x", 64)}, []string{strings.Repeat("x", 64)}, ""},
		{"64 four-byte characters", []string{strings.Repeat("😀", 64)}, []string{strings.Repeat("😀", 64)}, ""},
		{"65 characters", []string{strings.Repeat("é", 65)}, nil, "longer than 64 characters"},
		{"comma", []string{"a,b"}, nil, `must not contain ","`},
		{"control", []string{"a\x7fb"}, nil, "control characters"},
		// The store's separator of tags in a column (tagSep).
		{"unit separator", []string{"a\x1fb"}, nil, "control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resources.NormalizeTags(tt.tags)
			checkValidation(t, err, "tags", tt.wantReason)
			if tt.wantReason == "" && (got == nil || !slices.Equal(got, tt.want)) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// deep returns a metadata object nesting n levels (the object is level 1).
func deep(n int) string {
	return `{"a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + `}`
}

func TestValidateMetadata(t *testing.T) {
	big := `{"k":"` + strings.Repeat("x", 64<<10-8) + `"}`
	tests := []struct {
		in, want, wantReason string
	}{
		{"", "", ""},
		{"null", "", ""},
		{` { "b" : 1, "a" : [ 1, 2 ] } `, `{"b":1,"a":[1,2]}`, ""},
		{`{"e":"\u00e9\ud83d\ude00"}`, `{"e":"\u00e9\ud83d\ude00"}`, ""},
		{big, big, ""},
		{big[:len(big)-2] + `x"}`, "", "at most 65536 bytes"},
		{`[1]`, "", "must be a JSON object"},
		{`"s"`, "", "must be a JSON object"},
		{`{"a":}`, "", "valid JSON"},
		{`{"a":"\u0000"}`, "", `\u0000`},
		{`{"a":"\\u0000"}`, `{"a":"\\u0000"}`, ""},
		{`{"a":"\ud83d"}`, "", "surrogates"},
		{`{"a":"\ude00"}`, "", "surrogates"},
		{deep(1000), deep(1000), ""},
		{deep(1001), "", "at most 1000 levels"},
		{`{"a":"[[[[\"]]"}`, `{"a":"[[[[\"]]"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in[:min(len(tt.in), 30)], func(t *testing.T) {
			got, err := resources.ValidateMetadata(json.RawMessage(tt.in))
			checkValidation(t, err, "metadata", tt.wantReason)
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// validResource is a complete, valid resource; tests edit it field by
// field.
func validResource() resources.Resource {
	created := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	return resources.Resource{
		ID: "0190c0de-0000-7000-8000-000000000001", AccountID: "acme", Name: "file-1.txt", DirectoryPath: "/",
		MimeType: "text/plain", SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		StorageBucket: "bucket", StorageKey: "acme/1", Tags: []string{}, CreatedAt: created, UpdatedAt: created,
	}
}

func TestResourceValidate(t *testing.T) {
	s := func(v string) *string { return &v }
	tests := []struct {
		name       string
		edit       func(*resources.Resource)
		field      string
		wantReason string
	}{
		{"valid", func(*resources.Resource) {}, "", ""},
		{"id not a UUID", func(r *resources.Resource) { r.ID = "42" }, "id", "UUID"},
		{"id upper case", func(r *resources.Resource) { r.ID = strings.ToUpper(r.ID) }, "id", "lowercase"},
		{"no account", func(r *resources.Resource) { r.AccountID = "" }, "account_id", "is required"},
		{"no name", func(r *resources.Resource) { r.Name = "" }, "name", "is required"},
		{"bad path", func(r *resources.Resource) { r.DirectoryPath = "/a/" }, "directory_path", "end with"},
		{"no mime type", func(r *resources.Resource) { r.MimeType = "" }, "mime_type", "is required"},
		{"sha256 upper case", func(r *resources.Resource) { r.SHA256 = strings.ToUpper(r.SHA256) }, "sha256", "lowercase"},
		{"sha256 short", func(r *resources.Resource) { r.SHA256 = "abc" }, "sha256", "64"},
		{"no bucket", func(r *resources.Resource) { r.StorageBucket = "" }, "storage_bucket", "is required"},
		{"no key", func(r *resources.Resource) { r.StorageKey = "" }, "storage_key", "is required"},
		{"negative size", func(r *resources.Resource) { r.SizeBytes = -1 }, "size_bytes", "negative"},
		{"storage type", func(r *resources.Resource) { r.ExternalStorageType = s("ftp") }, "external_storage_type", "s3, gcs, azure_blob"},
		{"storage type ok", func(r *resources.Resource) { r.ExternalStorageType = s("azure_blob") }, "", ""},
		{"NUL in created_by", func(r *resources.Resource) { r.CreatedBy = s("a\x00") }, "created_by", "NUL"},
		{"untrimmed tag", func(r *resources.Resource) { r.Tags = []string{" a"} }, "tags", "spaces"},
		{"duplicate tag", func(r *resources.Resource) { r.Tags = []string{"b", "a", "b"} }, "tags", "twice"},
		{"unsorted tags", func(r *resources.Resource) { r.Tags = []string{"b", "a"} }, "", ""},
		{"metadata array", func(r *resources.Resource) { r.Metadata = []byte(`[]`) }, "metadata", "object"},
		{"no created_at", func(r *resources.Resource) { r.CreatedAt = time.Time{} }, "created_at", "is required"},
		{"updated_at year 10000", func(r *resources.Resource) { r.UpdatedAt = r.UpdatedAt.AddDate(8000, 0, 0) }, "updated_at", "9999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validResource()
			tt.edit(&r)
			checkValidation(t, r.Validate(), tt.field, tt.wantReason)
		})
	}
}
