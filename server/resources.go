package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/re-factor/resources/gen"
	"github.com/re-factor/resources/resources"
	"github.com/re-factor/resources/store"
)

const (
	defaultPage     = 1
	defaultPageSize = 20
)

// ListResources serves GET /v1/resources: one page of the account's
// resources matching the filters, with the exact total.
func (s *Server) ListResources(ctx context.Context, req gen.ListResourcesRequestObject) (gen.ListResourcesResponseObject, error) {
	account, err := accountOf(ctx)
	if err != nil {
		return nil, err
	}
	f := listFilter(account, req.Params)
	page, err := s.resources.List(ctx, f)
	var re *resources.Error
	if errors.As(err, &re) && re.Field != "" {
		// The filter comes from the query; the validator has refused all
		// but a cursor this server did not make.
		return nil, badRequest(fmt.Sprintf("query parameter %q: %s", re.Field, re.Reason))
	}
	if err != nil {
		return nil, err
	}
	items, err := toAPIResources(page.Items)
	if err != nil {
		return nil, err
	}
	resp := gen.ListResources200JSONResponse{
		Items:    items,
		Total:    int(page.Total),
		Page:     int(page.Page),
		PageSize: int(f.PageSize),
	}
	if page.NextCursor != "" {
		resp.NextCursor = &page.NextCursor
	}
	return resp, nil
}

// listFilter reads the validated query into a store filter, filling in the
// spec's defaults.
func listFilter(account string, p gen.ListResourcesParams) store.ResourceFilter {
	f := store.ResourceFilter{
		AccountID:     account,
		CreatedAfter:  p.CreatedAfter,
		CreatedBefore: p.CreatedBefore,
		Ascending:     p.Sort != nil && *p.Sort == gen.Asc,
		Page:          defaultPage,
		PageSize:      defaultPageSize,
	}
	if p.Tags != nil {
		f.Tags = resources.ParseTagFilter(*p.Tags)
	}
	if p.DirectoryPrefix != nil {
		f.DirectoryPrefix = *p.DirectoryPrefix
	}
	if p.Page != nil {
		f.Page = int64(*p.Page)
	}
	if p.PageSize != nil {
		f.PageSize = int64(*p.PageSize)
	}
	if p.Cursor != nil {
		f.Cursor = *p.Cursor
	}
	return f
}

func toAPIResources(rs []store.Resource) ([]gen.Resource, error) {
	out := make([]gen.Resource, len(rs))
	for i := range rs {
		r, err := toAPIResource(&rs[i])
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// toAPIResource is the one place a stored resource becomes its API form.
// Optional fields without a value stay nil so they are omitted, never null.
func toAPIResource(r *store.Resource) (gen.Resource, error) {
	id, err := uuid.Parse(r.ID)
	if err != nil {
		return gen.Resource{}, fmt.Errorf("stored resource id %q: %w", r.ID, err)
	}
	tags := r.Tags
	if tags == nil {
		tags = []string{}
	}
	out := gen.Resource{
		Id:            id,
		AccountId:     r.AccountID,
		Name:          r.Name,
		DirectoryPath: r.DirectoryPath,
		MimeType:      r.MimeType,
		Sha256:        r.SHA256,
		OriginalUri:   r.OriginalURI,
		ExternalId:    r.ExternalID,
		StorageBucket: r.StorageBucket,
		StorageKey:    r.StorageKey,
		SizeBytes:     r.SizeBytes,
		Tags:          &tags,
		CreatedBy:     r.CreatedBy,
		CreatedAt:     r.CreatedAt.UTC(),
		UpdatedAt:     r.UpdatedAt.UTC(),
	}
	if r.ExternalStorageType != nil {
		t := gen.ExternalStorageType(*r.ExternalStorageType)
		out.ExternalStorageType = &t
	}
	if len(r.Metadata) > 0 {
		m := json.RawMessage(r.Metadata)
		out.Metadata = &m
	}
	return out, nil
}
