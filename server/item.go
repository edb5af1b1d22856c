package server

import (
	"cmp"
	"context"

	"github.com/re-factor/resources/gen"
	"github.com/re-factor/resources/store"
)

// GetResource serves GET /v1/resource/{id}.
func (s *Server) GetResource(ctx context.Context, req gen.GetResourceRequestObject) (gen.GetResourceResponseObject, error) {
	account, err := accountOf(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.db.GetResource(ctx, account, req.Id.String())
	if err != nil {
		return nil, err
	}
	out, err := toAPIResource(&r)
	if err != nil {
		return nil, err
	}
	return gen.GetResource200JSONResponse(out), nil
}

// UpdateResource serves PUT /v1/resource/{id}: a partial update of name,
// directory_path and metadata. The bytes stay where they are: their key
// holds the id, not the path.
func (s *Server) UpdateResource(ctx context.Context, req gen.UpdateResourceRequestObject) (gen.UpdateResourceResponseObject, error) {
	account, err := accountOf(ctx)
	if err != nil {
		return nil, err
	}
	if err := validateUpdate(req.Body); err != nil {
		return nil, err
	}
	u := store.ResourceUpdate{Name: req.Body.Name, DirectoryPath: req.Body.DirectoryPath}
	if req.Body.Metadata != nil {
		u.Metadata = *req.Body.Metadata
	}
	r, err := s.db.UpdateResource(ctx, account, req.Id.String(), u, s.now())
	if err != nil {
		return nil, err
	}
	out, err := toAPIResource(&r)
	if err != nil {
		return nil, err
	}
	return gen.UpdateResource200JSONResponse(out), nil
}

// validateUpdate checks the fields before the store looks the resource up,
// so that an invalid body is a 400 whether or not the id exists. The
// validator has checked all but metadata's prose rules; the store checks
// again.
func validateUpdate(b *gen.ResourceUpdate) error {
	var errName, errPath, errMetadata error
	if b.Name != nil {
		errName = store.ValidateName(*b.Name)
	}
	if b.DirectoryPath != nil {
		errPath = store.ValidateDirectoryPath(*b.DirectoryPath)
	}
	if b.Metadata != nil {
		_, errMetadata = store.ValidateMetadata(*b.Metadata)
	}
	return cmp.Or(errName, errPath, errMetadata)
}

// DeleteResource serves DELETE /v1/resource/{id}: the row (and its tags)
// first, then the bytes, so a failure in between leaves only bytes that
// refactor gc removes, never a row without bytes.
func (s *Server) DeleteResource(ctx context.Context, req gen.DeleteResourceRequestObject) (gen.DeleteResourceResponseObject, error) {
	account, err := accountOf(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.db.DeleteResource(ctx, account, req.Id.String())
	if err != nil {
		return nil, err
	}
	// Imported rows may point into another bucket, which is not ours to empty.
	if r.StorageBucket == s.blobs.Bucket() {
		s.removeBytes(ctx, r.StorageKey)
	}
	return gen.DeleteResource204Response{}, nil
}
