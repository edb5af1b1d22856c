package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/gen"
	"github.com/re-factor/resources/store"
)

// CreateResource serves POST /v1/resources: it streams the content into
// blob storage, hashing it on the way, then records the row. Bytes are
// written first and removed again if the row cannot be, so no row ever
// points at missing bytes; a crash in between leaves bytes for refactor gc.
func (s *Server) CreateResource(ctx context.Context, req gen.CreateResourceRequestObject) (gen.CreateResourceResponseObject, error) {
	p, err := principalOf(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.newResource(p.AccountID, p.Subject, req.Body)
	if err != nil {
		return nil, err
	}
	src, err := s.openSource(ctx, req.Body)
	if err != nil {
		return nil, err
	}
	defer src.body.Close()
	w, err := s.blobs.Put(ctx, r.StorageKey, src.body, s.maxContent, src.mediaType)
	if err != nil {
		return nil, fmt.Errorf("store content of %s: %w", r.ID, err)
	}
	r.SHA256, r.SizeBytes, r.MimeType = w.SHA256, w.Size, src.mediaType
	if r.MimeType == "" {
		r.MimeType = http.DetectContentType(w.Head)
	}
	if err := s.db.CreateResource(ctx, r); err != nil {
		s.removeBytes(ctx, r.StorageKey)
		return nil, err
	}
	out, err := toAPIResource(&r)
	if err != nil {
		return nil, err
	}
	return gen.CreateResource200JSONResponse(out), nil
}

// newResource checks everything about the request that needs no I/O, so a
// bad request is refused before any byte is stored, and fills in what the
// server decides.
func (s *Server) newResource(account, subject string, body *gen.ResourceCreate) (store.Resource, error) {
	if (body.Content == nil) == (body.Uri == nil) {
		return store.Resource{}, badRequest("request body: content and uri: give exactly one of the two")
	}
	if err := errors.Join(store.ValidateName(body.Name), store.ValidateDirectoryPath(body.DirectoryPath)); err != nil {
		return store.Resource{}, err
	}
	var tags []string
	if body.Tags != nil {
		tags = *body.Tags
	}
	tags, err := store.NormalizeTags(tags)
	if err != nil {
		return store.Resource{}, err
	}
	var metadata json.RawMessage
	if body.Metadata != nil {
		if metadata, err = store.ValidateMetadata(*body.Metadata); err != nil {
			return store.Resource{}, err
		}
	}
	id := uuid.NewString()
	now := s.now().UTC().Truncate(time.Microsecond)
	r := store.Resource{
		ID: id, AccountID: account, Name: body.Name, DirectoryPath: body.DirectoryPath,
		OriginalURI: body.Uri, StorageBucket: s.blobs.Bucket(), StorageKey: blobstore.Key(account, id),
		Tags: tags, Metadata: metadata, CreatedAt: now, UpdatedAt: now,
	}
	if subject != "" {
		r.CreatedBy = &subject
	}
	return r, nil
}

// source is where a new resource's bytes come from.
type source struct {
	body      io.ReadCloser
	mediaType string // "" when the bytes must be sniffed
}

func (s *Server) openSource(ctx context.Context, body *gen.ResourceCreate) (source, error) {
	if body.Content != nil {
		d, err := parseDataURL(*body.Content)
		if err != nil {
			return source{}, err
		}
		if d.decodedSize() > s.maxContent+2 { // DecodedLen counts padding bytes
			return source{}, fmt.Errorf("content: %w", blobstore.ErrTooLarge)
		}
		return source{body: io.NopCloser(d.reader()), mediaType: d.mediaType}, nil
	}
	rc, mediaType, err := s.fetcher.Fetch(ctx, *body.Uri)
	if err != nil {
		return source{}, err
	}
	return source{body: rc, mediaType: mediaType}, nil
}

// removeBytes deletes bytes whose row could not be written. A failure is
// logged and left to refactor gc.
func (s *Server) removeBytes(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.blobs.Delete(ctx, key); err != nil {
		s.log.WarnContext(ctx, "bytes left for refactor gc", "storage_key", key, "error", err.Error())
	}
}
