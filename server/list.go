package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/gen"
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
	page, err := s.catalog.List(ctx, f)
	var re *resources.Error
	if errors.As(err, &re) && re.Field != "" {
		// The filter comes from the query; the validator has refused all
		// but a cursor this server did not make.
		return nil, badRequest(fmt.Sprintf("query parameter %q: %s", re.Field, re.Reason))
	}
	if err != nil {
		return nil, err
	}
	return resourcePage{items: page.Items, total: page.Total, page: page.Page, pageSize: f.PageSize,
		nextCursor: page.NextCursor}, nil
}

// listFilter reads the validated query into a store filter, filling in the
// spec's defaults.
func listFilter(account string, p gen.ListResourcesParams) resources.Filter {
	f := resources.Filter{
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
