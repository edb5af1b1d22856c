package server

import (
	"context"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/gen"
)

// GetResource serves GET /v1/resource/{id}.
func (s *Server) GetResource(ctx context.Context, req gen.GetResourceRequestObject) (gen.GetResourceResponseObject, error) {
	account, err := accountOf(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.catalog.Get(ctx, account, req.Id.String())
	if err != nil {
		return nil, err
	}
	return resourceBody{&r}, nil
}

// UpdateResource serves PUT /v1/resource/{id}: a partial update of name,
// directory_path and metadata.
func (s *Server) UpdateResource(ctx context.Context, req gen.UpdateResourceRequestObject) (gen.UpdateResourceResponseObject, error) {
	account, err := accountOf(ctx)
	if err != nil {
		return nil, err
	}
	u := resources.Update{Name: req.Body.Name, DirectoryPath: req.Body.DirectoryPath}
	if req.Body.Metadata != nil {
		u.Metadata = *req.Body.Metadata
	}
	r, err := s.catalog.Update(ctx, account, req.Id.String(), u)
	if err != nil {
		return nil, err
	}
	return resourceBody{&r}, nil
}

// DeleteResource serves DELETE /v1/resource/{id}.
func (s *Server) DeleteResource(ctx context.Context, req gen.DeleteResourceRequestObject) (gen.DeleteResourceResponseObject, error) {
	account, err := accountOf(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.catalog.Delete(ctx, account, req.Id.String()); err != nil {
		return nil, err
	}
	return gen.DeleteResource204Response{}, nil
}
