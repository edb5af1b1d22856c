package validation

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestHandlerPatternsDropped: a pattern named in Config.HandlerPatterns is
// the handler's to apply, wherever the spec refers to its schema, so Body
// passes a create whose content breaks it; without the option it refuses.
func TestHandlerPatternsDropped(t *testing.T) {
	doc := []byte(`{"name":"a.txt","directory_path":"/","content":"not a data URL"}`)
	for _, tt := range []struct {
		patterns []string
		passes   bool
	}{
		{[]string{"DataURL"}, true},
		{nil, false},
	} {
		v, err := New(Config{HandlerPatterns: tt.patterns})
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, "/v1/resources", nil)
		r.Header.Set("Content-Type", "application/json")
		err = v.Body(context.Background(), r, v.ops["POST /v1/resources"], doc)
		if (err == nil) != tt.passes {
			t.Errorf("HandlerPatterns %q: Body says %v, want passes %v", tt.patterns, err, tt.passes)
		}
	}
}
