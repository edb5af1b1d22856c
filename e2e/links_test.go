package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/re-factor/resources/client"
)

// TestDownloadLink shares a resource, downloads it through the link with
// no token (HEAD, which spends nothing, GET, a range), lists and revokes
// the link.
func TestDownloadLink(t *testing.T) {
	requireDeclared(t, http.MethodPost, "/v1/resource/{id}/links", http.StatusCreated)
	c := newClient(t, mustToken(t, writer, "resources:read resources:write"))
	body := []byte("a PDF for a model provider, say\n")
	created, err := c.CreateResourceWithResponse(t.Context(), client.ResourceCreate{
		Name: "shared-" + rand.Text()[:8] + ".txt", DirectoryPath: "/e2e/links",
		Content: ptr("data:text/plain;base64," + base64.StdEncoding.EncodeToString(body)),
	})
	if err != nil || created.JSON200 == nil {
		t.Fatalf("create: %v, %d %s", err, created.StatusCode(), created.Body)
	}
	id := created.JSON200.Id
	t.Cleanup(func() { c.DeleteResourceWithResponse(context.Background(), id) })

	shared, err := c.CreateDownloadLinkWithResponse(t.Context(), id, client.DownloadLinkCreate{
		ExpiresIn: ptr(int64(600)), MaxDownloads: ptr(int64(2))})
	if err != nil || shared.JSON201 == nil || shared.JSON201.Url == nil {
		t.Fatalf("share: %v, %d %s", err, shared.StatusCode(), shared.Body)
	}
	link := *shared.JSON201
	_, token, ok := strings.Cut(*link.Url, "/v1/links/")
	if !ok {
		t.Fatalf("url %q", *link.Url)
	}
	anonymous := newClient(t, "")

	head, err := http.Head(strings.TrimSuffix(target.baseURL, "/") + "/v1/links/" + token)
	if err != nil || head.StatusCode != http.StatusOK || head.Header.Get("Etag") == "" {
		t.Fatalf("HEAD link: %v, %v", err, head)
	}
	head.Body.Close()
	got, err := anonymous.GetLinkContentWithResponse(t.Context(), token, nil)
	if err != nil || got.StatusCode() != http.StatusOK || !bytes.Equal(got.Body, body) {
		t.Fatalf("GET link: %v, %d %q", err, got.StatusCode(), got.Body)
	}
	part, err := anonymous.GetLinkContentWithResponse(t.Context(), token, &client.GetLinkContentParams{Range: ptr("bytes=0-4")})
	if err != nil || part.StatusCode() != http.StatusPartialContent || string(part.Body) != string(body[:5]) {
		t.Fatalf("GET a range: %v, %d %q", err, part.StatusCode(), part.Body)
	}
	gone, err := anonymous.GetLinkContentWithResponse(t.Context(), token, nil)
	if err != nil || gone.JSON404 == nil {
		t.Errorf("GET a used-up link: %v, %d %s", err, gone.StatusCode(), gone.Body)
	}

	second, err := c.CreateDownloadLinkWithResponse(t.Context(), id, client.DownloadLinkCreate{})
	if err != nil || second.JSON201 == nil {
		t.Fatalf("share again: %v, %d %s", err, second.StatusCode(), second.Body)
	}
	list, err := c.ListDownloadLinksWithResponse(t.Context(), id)
	if err != nil || list.JSON200 == nil || len(list.JSON200.Items) != 1 || list.JSON200.Items[0].Id != second.JSON201.Id ||
		list.JSON200.Items[0].Url != nil {
		t.Fatalf("list: %v, %d %s", err, list.StatusCode(), list.Body)
	}
	revoked, err := c.RevokeDownloadLinkWithResponse(t.Context(), id, second.JSON201.Id)
	if err != nil || revoked.StatusCode() != http.StatusNoContent {
		t.Fatalf("revoke: %v, %d %s", err, revoked.StatusCode(), revoked.Body)
	}
	again, err := c.RevokeDownloadLinkWithResponse(t.Context(), id, second.JSON201.Id)
	if err != nil || again.JSON404 == nil {
		t.Errorf("revoke twice: %v, %d %s", err, again.StatusCode(), again.Body)
	}
}

// TestUploadLink lets a token-less holder upload into one folder, and
// revokes the link.
func TestUploadLink(t *testing.T) {
	requireDeclared(t, http.MethodPost, "/v1/upload-links", http.StatusCreated)
	owner := newClient(t, mustToken(t, writer, "resources:read resources:write"))
	dir := "/e2e/dropbox-" + rand.Text()[:8]
	made, err := owner.CreateUploadLinkWithResponse(t.Context(), client.UploadLinkCreate{
		DirectoryPath: dir, MimeTypes: &[]string{"text/*"}, MaxUploads: ptr(int64(1)), Tags: &[]string{"partner"}})
	if err != nil || made.JSON201 == nil || made.JSON201.Token == nil {
		t.Fatalf("create upload link: %v, %d %s", err, made.StatusCode(), made.Body)
	}
	up := *made.JSON201
	holder := newClient(t, *up.Token)
	create := func(name, mediaType string) *client.CreateResourceResponse {
		r, err := holder.CreateResourceWithResponse(t.Context(), client.ResourceCreate{Name: name, DirectoryPath: dir,
			Content: ptr("data:" + mediaType + ";base64,aGk=")})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := create("a.bin", "application/octet-stream"); r.JSON403 == nil {
		t.Errorf("a type the link refuses: %d %s", r.StatusCode(), r.Body)
	}
	r := create("a.txt", "text/plain")
	if r.JSON200 == nil || r.JSON200.CreatedBy == nil || *r.JSON200.CreatedBy != "upload-link:"+up.Id.String() {
		t.Fatalf("upload: %d %s", r.StatusCode(), r.Body)
	}
	t.Cleanup(func() { owner.DeleteResourceWithResponse(context.Background(), r.JSON200.Id) })
	if r := create("b.txt", "text/plain"); r.JSON401 == nil {
		t.Errorf("a use past the limit: %d %s", r.StatusCode(), r.Body)
	}
	if r, err := holder.ListResourcesWithResponse(t.Context(), nil); err != nil || r.StatusCode() != http.StatusUnauthorized {
		t.Errorf("list with an upload link: %v, %d", err, r.StatusCode())
	}

	second, err := owner.CreateUploadLinkWithResponse(t.Context(), client.UploadLinkCreate{DirectoryPath: dir})
	if err != nil || second.JSON201 == nil {
		t.Fatalf("second upload link: %v, %d %s", err, second.StatusCode(), second.Body)
	}
	list, err := owner.ListUploadLinksWithResponse(t.Context())
	if err != nil || list.JSON200 == nil {
		t.Fatalf("list: %v, %d %s", err, list.StatusCode(), list.Body)
	}
	found := false
	for _, l := range list.JSON200.Items {
		found = found || l.Id == second.JSON201.Id && l.Token == nil
	}
	if !found {
		t.Errorf("list lacks the live link, or shows its token: %s", list.Body)
	}
	revoked, err := owner.RevokeUploadLinkWithResponse(t.Context(), second.JSON201.Id)
	if err != nil || revoked.StatusCode() != http.StatusNoContent {
		t.Fatalf("revoke: %v, %d %s", err, revoked.StatusCode(), revoked.Body)
	}
	late, err := newClient(t, *second.JSON201.Token).CreateResourceWithResponse(t.Context(), client.ResourceCreate{
		Name: "late.txt", DirectoryPath: dir, Content: ptr("data:text/plain;base64,aGk=")})
	if err != nil || late.JSON401 == nil {
		t.Errorf("upload through a revoked link: %v, %d %s", err, late.StatusCode(), late.Body)
	}
}
