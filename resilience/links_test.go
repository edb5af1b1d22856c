package resilience

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLinkRevocationAcrossReplicas runs two server processes on one
// database and one bucket: a link revoked through one answers 404 (a
// download link) or 401 (an upload link) on the other at its very next
// request, well within a second. Nothing is cached in a process: every use
// of a link is checked in the database.
func TestLinkRevocationAcrossReplicas(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			dbURL := "sqlite:" + filepath.Join(dir, "db.sqlite")
			if engine == "postgres" {
				dbURL = newCluster(t).url()
			}
			env := []string{"DATABASE_URL=" + dbURL, "BLOB_URL=file://" + filepath.Join(dir, "blobs")}
			a, b := startServer(t, env...), startServer(t, env...)
			ctx := context.Background()
			tok := token(t, "acct")
			body, _ := json.Marshal(map[string]any{"name": "shared.txt", "directory_path": "/",
				"content": "data:text/plain;base64," + base64.StdEncoding.EncodeToString([]byte("shared"))})
			created := do(ctx, http.MethodPost, a.URL+"/v1/resources", tok, body)
			var res struct{ ID string }
			if created.status != http.StatusOK || json.Unmarshal(created.body, &res) != nil {
				t.Fatalf("create on a: %d %s", created.status, created.body)
			}
			shared := do(ctx, http.MethodPost, a.URL+"/v1/resource/"+res.ID+"/links", tok, []byte(`{}`))
			var link struct{ ID, URL string }
			if shared.status != http.StatusCreated || json.Unmarshal(shared.body, &link) != nil {
				t.Fatalf("share on a: %d %s", shared.status, shared.body)
			}
			onB := b.URL + strings.TrimPrefix(link.URL, a.URL)
			if r := do(ctx, http.MethodGet, onB, "", nil); r.status != http.StatusOK || string(r.body) != "shared" {
				t.Fatalf("download on b: %d %s", r.status, r.body)
			}
			if r := do(ctx, http.MethodDelete, a.URL+"/v1/resource/"+res.ID+"/links/"+link.ID, tok, nil); r.status != http.StatusNoContent {
				t.Fatalf("revoke on a: %d %s", r.status, r.body)
			}
			revoked := time.Now()
			if r := do(ctx, http.MethodGet, onB, "", nil); r.status != http.StatusNotFound {
				t.Errorf("download on b after the revocation on a: %d %s, want 404", r.status, r.body)
			}
			t.Logf("b answered 404 %v after a's revocation answered", time.Since(revoked))

			made := do(ctx, http.MethodPost, b.URL+"/v1/upload-links", tok, []byte(`{"directory_path":"/in"}`))
			var up struct{ ID, Token string }
			if made.status != http.StatusCreated || json.Unmarshal(made.body, &up) != nil {
				t.Fatalf("upload link on b: %d %s", made.status, made.body)
			}
			upload := func(p *proc, name string) result {
				return do(ctx, http.MethodPost, p.URL+"/v1/resources", up.Token,
					[]byte(`{"directory_path":"/in","name":"`+name+`","content":"data:text/plain;base64,aGk="}`))
			}
			if r := upload(a, "one.txt"); r.status != http.StatusOK {
				t.Fatalf("upload on a: %d %s", r.status, r.body)
			}
			if r := do(ctx, http.MethodDelete, b.URL+"/v1/upload-links/"+up.ID, tok, nil); r.status != http.StatusNoContent {
				t.Fatalf("revoke on b: %d %s", r.status, r.body)
			}
			if r := upload(a, "two.txt"); r.status != http.StatusUnauthorized {
				t.Errorf("upload on a after the revocation on b: %d %s, want 401", r.status, r.body)
			}
		})
	}
}
