package e2e_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/re-factor/resources/client"
)

// TestResumableUpload walks the tus protocol as any tus client does:
// discovery, creation with the resource's fields as Upload-Metadata, two
// PATCHes with the offset asked in between, and the resource that the
// upload's id names once the last byte is in; then an upload terminated
// before its end, which is gone.
func TestResumableUpload(t *testing.T) {
	requireDeclared(t, http.MethodPost, "/v1/uploads", http.StatusCreated)
	c := newClient(t, mustToken(t, writer, "resources:read resources:write"))
	tus := ptr("1.0.0")

	opts, err := c.UploadOptionsWithResponse(t.Context())
	if err != nil || !strings.Contains(opts.HTTPResponse.Header.Get("Tus-Extension"), "creation") {
		t.Fatalf("OPTIONS: %v, %v", err, opts.HTTPResponse.Header)
	}

	body := []byte("the first half, and the second half\n")
	sum := sha256.Sum256(body)
	id := createUpload(t, c, len(body), "name", "talk.txt", "directory_path", "/e2e/uploads", "mime_type", "text/plain",
		"sha256", hex.EncodeToString(sum[:]))
	half := len(body) / 2
	patch(t, c, id, 0, body[:half])
	got, err := c.GetUploadWithResponse(t.Context(), id)
	if err != nil || got.JSON200 == nil || got.JSON200.Offset != int64(half) || got.JSON200.Done {
		t.Fatalf("the offset after one PATCH: %v, %d %s", err, got.StatusCode(), got.Body)
	}
	patch(t, c, id, half, body[half:])
	r, err := c.GetResourceWithResponse(t.Context(), id)
	if err != nil || r.JSON200 == nil || r.JSON200.Sha256 != hex.EncodeToString(sum[:]) || r.JSON200.SizeBytes != int64(len(body)) {
		t.Fatalf("the resource the upload became: %v, %d %s", err, r.StatusCode(), r.Body)
	}
	t.Cleanup(func() { c.DeleteResourceWithResponse(t.Context(), id) })

	dropped := createUpload(t, c, 10, "name", "dropped-"+rand.Text()[:8]+".bin", "directory_path", "/e2e/uploads")
	if r, err := c.TerminateUploadWithResponse(t.Context(), dropped, &client.TerminateUploadParams{TusResumable: tus}); err != nil || r.StatusCode() != http.StatusNoContent {
		t.Fatalf("terminate: %v, %d %s", err, r.StatusCode(), r.Body)
	}
	if r, err := c.GetUploadWithResponse(t.Context(), dropped); err != nil || r.StatusCode() != http.StatusNotFound {
		t.Errorf("a terminated upload: %v, %d %s", err, r.StatusCode(), r.Body)
	}
}

// createUpload starts an upload of size bytes with the metadata pairs
// (key, value, ...) and returns its id, from the Location it answers.
func createUpload(t *testing.T, c *client.ClientWithResponses, size int, pairs ...string) openapi_types.UUID {
	t.Helper()
	var meta []string
	for i := 0; i < len(pairs); i += 2 {
		meta = append(meta, pairs[i]+" "+base64.StdEncoding.EncodeToString([]byte(pairs[i+1])))
	}
	r, err := c.CreateUploadWithBodyWithResponse(t.Context(), &client.CreateUploadParams{TusResumable: ptr("1.0.0"),
		UploadLength: ptr(strconv.Itoa(size)), UploadMetadata: ptr(strings.Join(meta, ","))}, "application/offset+octet-stream", nil)
	if err != nil || r.StatusCode() != http.StatusCreated {
		t.Fatalf("create upload: %v, %d %s", err, r.StatusCode(), r.Body)
	}
	loc := r.HTTPResponse.Header.Get("Location")
	var id openapi_types.UUID
	if err := id.UnmarshalText([]byte(loc[strings.LastIndexByte(loc, '/')+1:])); err != nil {
		t.Fatalf("Location %q: %v", loc, err)
	}
	return id
}

func patch(t *testing.T, c *client.ClientWithResponses, id openapi_types.UUID, offset int, chunk []byte) {
	t.Helper()
	r, err := c.UploadChunkWithBodyWithResponse(t.Context(), id, &client.UploadChunkParams{TusResumable: ptr("1.0.0"),
		UploadOffset: strconv.Itoa(offset)}, "application/offset+octet-stream", bytes.NewReader(chunk))
	if err != nil || r.StatusCode() != http.StatusNoContent || r.HTTPResponse.Header.Get("Upload-Offset") != strconv.Itoa(offset+len(chunk)) {
		t.Fatalf("PATCH at %d: %v, %d %s", offset, err, r.StatusCode(), r.Body)
	}
}
