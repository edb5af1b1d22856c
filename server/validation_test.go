package server_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestSameRuleSameWords checks that a field or parameter breaking a rule
// gets the same 400 message on every route that takes it, naming it and
// the rule, whether the request validator or the server's own checks (the
// prose rules of metadata) found it.
func TestSameRuleSameWords(t *testing.T) {
	e := newEnv(t, "sqlite")
	tok := rwToken(t, "acct")
	id := e.mustCreate(tok, map[string]any{"name": "a", "directory_path": "/", "content": dataURL("text/plain", []byte("a"))})["id"].(string)
	deep := map[string]any{}
	for range 1000 {
		deep = map[string]any{"a": deep}
	}
	fields := []struct {
		name, field string
		value       any
		want        string
	}{
		{"name with a slash", "name", "a/b", `request body: name: must not contain "/" or control characters`},
		{"name too long", "name", strings.Repeat("é", 256), "request body: name: must be at most 255 characters long"},
		{"empty name", "name", "", "request body: name: must not be empty"},
		{"path with a trailing slash", "directory_path", "/a/", `request body: directory_path: must be "/" or a "/"-separated absolute path`},
		{"metadata not an object", "metadata", []int{1}, "request body: metadata: must be of type object"},
		{"metadata too deep", "metadata", deep, "request body: metadata: must nest at most 1000 levels deep"},
		{"metadata with NUL", "metadata", map[string]any{"a": "\x00"}, `request body: metadata: must not contain \u0000`},
		{"unknown field", "size_bytes", 1, "request body: size_bytes: is not a field of this request"},
	}
	for _, f := range fields {
		t.Run(f.name, func(t *testing.T) {
			create := map[string]any{"name": "b", "directory_path": "/", "content": dataURL("text/plain", []byte("b"))}
			create[f.field] = f.value
			created := e.send(http.MethodPost, "/v1/resources", tok, create)
			updated := e.send(http.MethodPut, "/v1/resource/"+id, tok, map[string]any{f.field: f.value})
			if created.status != http.StatusBadRequest || updated.status != http.StatusBadRequest {
				t.Fatalf("create %d, update %d; want 400 from both", created.status, updated.status)
			}
			c, u := created.errorMessage(t), updated.errorMessage(t)
			if c != u || !strings.HasPrefix(c, f.want) {
				t.Errorf("create says %q,\nupdate says %q,\nwant both to start %q", c, u, f.want)
			}
		})
	}
	t.Run("id", func(t *testing.T) {
		var messages []string
		for _, r := range []response{
			e.get("/v1/resource/not-a-uuid", tok),
			e.get("/v1/resource/not-a-uuid/content", tok),
			e.send(http.MethodPut, "/v1/resource/not-a-uuid", tok, map[string]any{}),
			e.do(http.MethodDelete, "/v1/resource/not-a-uuid", tok, nil),
		} {
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d %s, want 400", r.status, r.body)
			}
			messages = append(messages, r.errorMessage(t))
		}
		for _, m := range messages {
			if m != `path parameter "id": must be a UUID such as 75e35926-dd42-5b28-8493-ea7133ef5dcd` {
				t.Errorf("messages %q: want one wording naming the id", messages)
				break
			}
		}
	})
}
