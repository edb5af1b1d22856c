package e2e_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/re-factor/resources/client"
)

// writer is the account the write tests change. Names carry a random suffix
// and every resource is deleted again, so passes can share one server.
const writer = "e2e-writer"

// TestResourceLifecycle creates, reads, downloads, updates, lists and
// deletes one resource through every write and item route.
func TestResourceLifecycle(t *testing.T) {
	requireDeclared(t, http.MethodPost, listPath, http.StatusOK)
	c := newClient(t, mustToken(t, writer, "resources:read resources:write"))
	body := []byte("hello from the e2e suite\n")
	name := "note-" + rand.Text()[:8] + ".txt"
	meta := json.RawMessage(`{"source":"e2e"}`)
	create := client.ResourceCreate{
		Name:          name,
		DirectoryPath: "/e2e/notes",
		Content:       ptr("data:text/plain;base64," + base64.StdEncoding.EncodeToString(body)),
		Tags:          &[]string{"zeta", "e2e", "zeta"},
		Metadata:      &meta,
	}
	created, err := c.CreateResourceWithResponse(t.Context(), create)
	if err != nil {
		t.Fatal(err)
	}
	if created.JSON200 == nil {
		t.Fatalf("create: status %d: %s", created.StatusCode(), created.Body)
	}
	r := *created.JSON200
	sum := sha256.Sum256(body)
	if r.Name != name || r.AccountId != writer || r.MimeType != "text/plain" || r.Sha256 != hex.EncodeToString(sum[:]) ||
		r.SizeBytes != int64(len(body)) || r.Tags == nil || !slices.Equal(*r.Tags, []string{"e2e", "zeta"}) {
		t.Errorf("created %+v", r)
	}
	id := r.Id
	t.Cleanup(func() { c.DeleteResourceWithResponse(context.Background(), id) })

	t.Run("get", func(t *testing.T) {
		requireDeclared(t, http.MethodGet, "/v1/resource/{id}", http.StatusOK)
		got, err := c.GetResourceWithResponse(t.Context(), id)
		if err != nil || got.JSON200 == nil || got.JSON200.Sha256 != r.Sha256 {
			t.Fatalf("get: %v, status %d: %s", err, got.StatusCode(), got.Body)
		}
	})
	t.Run("content", func(t *testing.T) {
		requireDeclared(t, http.MethodGet, "/v1/resource/{id}/content", http.StatusOK)
		full, err := c.GetResourceContentWithResponse(t.Context(), id, nil)
		if err != nil || full.StatusCode() != http.StatusOK || string(full.Body) != string(body) {
			t.Fatalf("content: %v, status %d: %q", err, full.StatusCode(), full.Body)
		}
		etag := full.HTTPResponse.Header.Get("ETag")
		part, err := c.GetResourceContentWithResponse(t.Context(), id, &client.GetResourceContentParams{Range: ptr("bytes=0-4")})
		if err != nil || part.StatusCode() != http.StatusPartialContent || string(part.Body) != "hello" {
			t.Errorf("range: %v, status %d: %q", err, part.StatusCode(), part.Body)
		}
		same, err := c.GetResourceContentWithResponse(t.Context(), id, &client.GetResourceContentParams{IfNoneMatch: &etag})
		if err != nil || same.StatusCode() != http.StatusNotModified {
			t.Errorf("If-None-Match %s: %v, status %d", etag, err, same.StatusCode())
		}
	})
	t.Run("conflict", func(t *testing.T) {
		requireDeclared(t, http.MethodPost, listPath, http.StatusConflict)
		again, err := c.CreateResourceWithResponse(t.Context(), create)
		if err != nil || again.JSON409 == nil {
			t.Fatalf("second create at the same path: %v, status %d: %s", err, again.StatusCode(), again.Body)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		requireDeclared(t, http.MethodPost, listPath, http.StatusBadRequest)
		bad := create
		bad.DirectoryPath = "relative/path"
		resp, err := c.CreateResourceWithResponse(t.Context(), bad)
		if err != nil || resp.JSON400 == nil {
			t.Fatalf("relative directory_path: %v, status %d: %s", err, resp.StatusCode(), resp.Body)
		}
		if msg := errorMessage(t, resp.Body); !strings.Contains(msg, "directory_path") {
			t.Errorf("error %q does not name directory_path", msg)
		}
	})
	t.Run("update", func(t *testing.T) {
		requireDeclared(t, http.MethodPut, "/v1/resource/{id}", http.StatusOK)
		renamed := "renamed-" + name
		up, err := c.UpdateResourceWithResponse(t.Context(), id, client.ResourceUpdate{Name: &renamed, DirectoryPath: ptr("/e2e/moved")})
		if err != nil || up.JSON200 == nil {
			t.Fatalf("update: %v, status %d: %s", err, up.StatusCode(), up.Body)
		}
		if up.JSON200.Name != renamed || up.JSON200.DirectoryPath != "/e2e/moved" || up.JSON200.StorageKey != r.StorageKey {
			t.Errorf("updated %+v; want the new name and path, the same storage key", *up.JSON200)
		}
	})
	t.Run("listed", func(t *testing.T) {
		list, err := c.ListResourcesWithResponse(t.Context(), &client.ListResourcesParams{DirectoryPrefix: ptr("/e2e/moved"), Tags: ptr("zeta")})
		if err != nil || list.JSON200 == nil || !slices.Contains(itemIDs(list.JSON200.Items), id.String()) {
			t.Fatalf("list: %v, status %d: %s", err, list.StatusCode(), list.Body)
		}
	})
	t.Run("delete", func(t *testing.T) {
		requireDeclared(t, http.MethodDelete, "/v1/resource/{id}", http.StatusNoContent)
		del, err := c.DeleteResourceWithResponse(t.Context(), id)
		if err != nil || del.StatusCode() != http.StatusNoContent {
			t.Fatalf("delete: %v, status %d: %s", err, del.StatusCode(), del.Body)
		}
		gone, err := c.GetResourceWithResponse(t.Context(), id)
		if err != nil || gone.JSON404 == nil {
			t.Errorf("get after delete: %v, status %d: %s", err, gone.StatusCode(), gone.Body)
		}
		again, err := c.DeleteResourceWithResponse(t.Context(), id)
		if err != nil || again.JSON404 == nil {
			t.Errorf("second delete: %v, status %d: %s", err, again.StatusCode(), again.Body)
		}
	})
}

// TestWriteNeedsScopeAndTenant checks that a read-only token cannot write
// and that another account's resource is invisible (404, not 403).
func TestWriteNeedsScopeAndTenant(t *testing.T) {
	requireDeclared(t, http.MethodPost, listPath, http.StatusForbidden)
	create := client.ResourceCreate{Name: "x-" + rand.Text()[:8], DirectoryPath: "/e2e",
		Content: ptr("data:text/plain;base64,eA==")}
	ro, err := newClient(t, mustToken(t, writer, "resources:read")).CreateResourceWithResponse(t.Context(), create)
	if err != nil || ro.JSON403 == nil {
		t.Fatalf("create with a read-only token: %v, status %d: %s", err, ro.StatusCode(), ro.Body)
	}
	requireDeclared(t, http.MethodGet, "/v1/resource/{id}", http.StatusNotFound)
	c := newClient(t, mustToken(t, writer, "resources:read resources:write"))
	created, err := c.CreateResourceWithResponse(t.Context(), create)
	if err != nil || created.JSON200 == nil {
		t.Fatalf("create: %v, status %d: %s", err, created.StatusCode(), created.Body)
	}
	id := created.JSON200.Id
	t.Cleanup(func() { c.DeleteResourceWithResponse(context.Background(), id) })
	other := newClient(t, mustToken(t, otherAccount, "resources:read resources:write"))
	if got, err := other.GetResourceWithResponse(t.Context(), id); err != nil || got.JSON404 == nil {
		t.Errorf("another account's get: %v, status %d: %s", err, got.StatusCode(), got.Body)
	}
	if del, err := other.DeleteResourceWithResponse(t.Context(), id); err != nil || del.JSON404 == nil {
		t.Errorf("another account's delete: %v, status %d: %s", err, del.StatusCode(), del.Body)
	}
}
