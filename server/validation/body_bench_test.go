package validation

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkBody is Body's cost for a create's body as upload.Decode keeps
// it, without the content's data.
func BenchmarkBody(b *testing.B) {
	v, err := New(Config{HandlerPatterns: []string{"DataURL"}})
	if err != nil {
		b.Fatal(err)
	}
	op := v.ops["POST /v1/resources"]
	doc := []byte(`{"name":"e000000001.txt","directory_path":"/bench/events","tags":["a","b"],"metadata":{"k":"v"},"content":"data:text/plain;base64,"}`)
	r := httptest.NewRequest(http.MethodPost, "/v1/resources", nil)
	r.Header.Set("Content-Type", "application/json")
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Body(context.Background(), r, op, doc); err != nil {
			b.Fatal(err)
		}
	}
}
