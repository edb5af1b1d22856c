package resources_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/re-factor/resources"
)

// validLine is a complete record; tests edit it field by field.
func validLine() map[string]any {
	return map[string]any{
		"id":                    "0190c0de-0000-7000-8000-000000000001",
		"account_id":            "acme",
		"name":                  "a.txt",
		"directory_path":        "/docs",
		"mime_type":             "text/plain",
		"sha256":                strings.Repeat("ab", 32),
		"original_uri":          "https://example.com/a.txt",
		"external_id":           "x-1",
		"external_storage_type": "s3",
		"storage_bucket":        "bucket",
		"storage_key":           "k/1",
		"size_bytes":            12,
		"tags":                  []string{" b", "a", "b"},
		"metadata":              map[string]any{"z": 1, "a": []int{1, 2}},
		"created_by":            "user-1",
		"created_at":            "2024-03-04T05:06:07.123456789+02:00",
		"updated_at":            "2024-03-04T03:06:08Z",
	}
}

func encodeLine(t *testing.T, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustEncode(t *testing.T, r resources.Resource) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := resources.EncodeLine(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDecodeLine(t *testing.T) {
	r, err := resources.DecodeLine(encodeLine(t, validLine()))
	if err != nil {
		t.Fatal(err)
	}
	s := func(v string) *string { return &v }
	want := resources.Resource{
		ID: "0190c0de-0000-7000-8000-000000000001", AccountID: "acme", Name: "a.txt", DirectoryPath: "/docs",
		MimeType: "text/plain", SHA256: strings.Repeat("ab", 32), OriginalURI: s("https://example.com/a.txt"),
		ExternalID: s("x-1"), ExternalStorageType: s("s3"), StorageBucket: "bucket", StorageKey: "k/1",
		SizeBytes: 12, Tags: []string{"a", "b"}, Metadata: json.RawMessage(`{"a":[1,2],"z":1}`),
		CreatedBy: s("user-1"),
		CreatedAt: time.Date(2024, 3, 4, 3, 6, 7, 123456000, time.UTC),
		UpdatedAt: time.Date(2024, 3, 4, 3, 6, 8, 0, time.UTC),
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("got  %+v\nwant %+v", r, want)
	}

	again, err := resources.DecodeLine(mustEncode(t, r))
	if err != nil || !reflect.DeepEqual(again, r) {
		t.Errorf("encode then decode = %+v, %v; want %+v", again, err, r)
	}
}

func TestDecodeLineOptional(t *testing.T) {
	m := validLine()
	for _, k := range []string{"original_uri", "external_id", "external_storage_type", "metadata", "created_by"} {
		m[k] = nil
	}
	delete(m, "tags")
	r, err := resources.DecodeLine(encodeLine(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if r.OriginalURI != nil || r.ExternalID != nil || r.ExternalStorageType != nil || r.Metadata != nil ||
		r.CreatedBy != nil || r.Tags == nil || len(r.Tags) != 0 {
		t.Errorf("got %+v, want optional fields absent and tags []", r)
	}
	line := mustEncode(t, r)
	if strings.Contains(string(line), "null") || !strings.Contains(string(line), `"tags":[]`) {
		t.Errorf("encoded %s, want no null and tags []", line)
	}
}

func TestDecodeLineErrors(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(m map[string]any)
		field      string
		wantReason string
	}{
		{"unknown field", func(m map[string]any) { m["colour"] = "red" }, "colour", "unknown field"},
		{"size as string", func(m map[string]any) { m["size_bytes"] = "12" }, "size_bytes", "integer"},
		{"size fractional", func(m map[string]any) { m["size_bytes"] = 1.5 }, "size_bytes", "integer"},
		{"name as number", func(m map[string]any) { m["name"] = 5 }, "name", "string"},
		{"tags as string", func(m map[string]any) { m["tags"] = "a,b" }, "tags", "array of strings"},
		{"tag as number", func(m map[string]any) { m["tags"] = []any{1} }, "tags", "array of strings"},
		{"invalid tag", func(m map[string]any) { m["tags"] = []any{"a,b"} }, "tags", `","`},
		{"metadata array", func(m map[string]any) { m["metadata"] = []int{1} }, "metadata", "object"},
		{"null required", func(m map[string]any) { m["name"] = nil }, "name", "is required"},
		{"time without zone", func(m map[string]any) { m["created_at"] = "2024-03-04T05:06:07" }, "created_at", "RFC 3339"},
		{"date only", func(m map[string]any) { m["updated_at"] = "2024-03-04" }, "updated_at", "RFC 3339"},
		{"bad path", func(m map[string]any) { m["directory_path"] = "docs" }, "directory_path", `start with "/"`},
		{"bad storage type", func(m map[string]any) { m["external_storage_type"] = "ftp" }, "external_storage_type", "one of"},
	}
	required := []string{"id", "account_id", "name", "directory_path", "mime_type", "sha256",
		"storage_bucket", "storage_key", "size_bytes", "created_at", "updated_at"}
	for _, f := range required {
		tests = append(tests, struct {
			name       string
			edit       func(m map[string]any)
			field      string
			wantReason string
		}{"missing " + f, func(m map[string]any) { delete(m, f) }, f, "is required"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validLine()
			tt.edit(m)
			_, err := resources.DecodeLine(encodeLine(t, m))
			checkValidation(t, err, tt.field, tt.wantReason)
		})
	}
}

func TestDecodeLineNotAnObject(t *testing.T) {
	valid := string(encodeLine(t, validLine()))
	for _, line := range []string{``, `[]`, `"x"`, `{"id":`, valid + ` {}`, valid + ` x`} {
		_, err := resources.DecodeLine([]byte(line))
		if !errors.Is(err, resources.ErrInvalid) {
			t.Errorf("DecodeLine(%q) = %v, want ErrInvalid", line, err)
		}
	}
}
