package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/gen"
)

// linkPathPrefix starts the URL of every download link: the prefix, then
// its token.
const linkPathPrefix = "/v1/links/"

// CreateDownloadLink serves POST /v1/resource/{id}/links.
func (s *Server) CreateDownloadLink(ctx context.Context, req gen.CreateDownloadLinkRequestObject) (gen.CreateDownloadLinkResponseObject, error) {
	p, err := principalOf(ctx)
	if err != nil {
		return nil, err
	}
	var spec resources.DownloadLinkSpec
	if b := req.Body; b != nil {
		spec.ExpiresIn = seconds(b.ExpiresIn)
		spec.MaxDownloads = b.MaxDownloads
		if b.Disposition != nil {
			spec.Disposition = string(*b.Disposition)
		}
	}
	l, token, err := s.catalog.CreateDownloadLink(ctx, p.AccountID, req.Id.String(), p.Subject, spec)
	if err != nil {
		return nil, err
	}
	body := downloadLinkBody(l)
	u := s.linkOrigin(ctx) + linkPathPrefix + token
	body.Url = &u
	return gen.CreateDownloadLink201JSONResponse(body), nil
}

// ListDownloadLinks serves GET /v1/resource/{id}/links.
func (s *Server) ListDownloadLinks(ctx context.Context, req gen.ListDownloadLinksRequestObject) (gen.ListDownloadLinksResponseObject, error) {
	account, err := accountOf(ctx)
	if err != nil {
		return nil, err
	}
	links, err := s.catalog.DownloadLinks(ctx, account, req.Id.String())
	if err != nil {
		return nil, err
	}
	return gen.ListDownloadLinks200JSONResponse{Items: bodies(links, downloadLinkBody)}, nil
}

// RevokeDownloadLink serves DELETE /v1/resource/{id}/links/{link_id}.
func (s *Server) RevokeDownloadLink(ctx context.Context, req gen.RevokeDownloadLinkRequestObject) (gen.RevokeDownloadLinkResponseObject, error) {
	account, err := accountOf(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.catalog.RevokeDownloadLink(ctx, account, req.Id.String(), req.LinkId.String()); err != nil {
		return nil, err
	}
	return gen.RevokeDownloadLink204Response{}, nil
}

// GetLinkContent serves GET (and HEAD) /v1/links/{token}, without
// authentication: the bytes as GetResourceContent serves them, one use of
// the link spent by each response that carries them; or, with
// LinkRedirect, a 302 to a signed storage URL, one use spent by each. A
// HEAD spends nothing and is never redirected.
func (s *Server) GetLinkContent(ctx context.Context, req gen.GetLinkContentRequestObject) (gen.GetLinkContentResponseObject, error) {
	c, err := s.openLink(ctx, req.Token, req.Params.Range, req.Params.IfNoneMatch)
	if err != nil {
		return nil, err
	}
	// A conditional request is answered here, where the ETag is known.
	if !s.linkRedirect || c.head || req.Params.IfNoneMatch != nil {
		return c, nil
	}
	u, err := s.catalog.PresignDownload(ctx, c.link, c.res)
	if err != nil {
		return nil, err
	}
	if err := c.spend(); err != nil {
		return nil, err
	}
	return gen.GetLinkContent302Response{Headers: gen.GetLinkContent302ResponseHeaders{Location: &u}}, nil
}

// linkResponse is a download through a link: the resource's bytes, with
// the link's disposition, spending one of its uses for each response that
// carries them.
type linkResponse struct {
	contentResponse
	link resources.DownloadLink
}

func (r linkResponse) VisitGetLinkContentResponse(w http.ResponseWriter) error { return r.write(w) }

// openLink finds the live link token and readies its download.
func (s *Server) openLink(ctx context.Context, token string, rangeHeader, ifNoneMatch *string) (linkResponse, error) {
	l, r, body, err := s.catalog.OpenDownloadLink(ctx, token)
	if errors.Is(err, resources.ErrNotFound) {
		return linkResponse{}, errNoLink(err)
	}
	if err != nil {
		return linkResponse{}, err
	}
	noteLink(ctx, l.ID)
	spend := func() error {
		err := s.catalog.SpendDownload(ctx, l)
		if errors.Is(err, resources.ErrNotFound) {
			return errNoLink(err)
		}
		return err
	}
	return linkResponse{link: l, contentResponse: contentResponse{ctx: ctx, res: r, body: body,
		disposition: l.Disposition, rangeHeader: rangeHeader, ifNoneMatch: ifNoneMatch, head: isHead(ctx),
		spend: spend, viaLink: true}}, nil
}

// CreateUploadLink serves POST /v1/upload-links.
func (s *Server) CreateUploadLink(ctx context.Context, req gen.CreateUploadLinkRequestObject) (gen.CreateUploadLinkResponseObject, error) {
	p, err := principalOf(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body
	spec := resources.UploadLinkSpec{DirectoryPath: b.DirectoryPath, ExpiresIn: seconds(b.ExpiresIn), MaxUploads: b.MaxUploads,
		AllowSubdirectories: orZero(b.AllowSubdirectories), MaxBytes: orZero(b.MaxBytes), MimeTypes: orZero(b.MimeTypes),
		Tags: orZero(b.Tags)}
	l, token, err := s.catalog.CreateUploadLink(ctx, p.AccountID, p.Subject, spec)
	if err != nil {
		return nil, err
	}
	body := uploadLinkBody(l)
	body.Token = &token
	return gen.CreateUploadLink201JSONResponse(body), nil
}

// ListUploadLinks serves GET /v1/upload-links.
func (s *Server) ListUploadLinks(ctx context.Context, _ gen.ListUploadLinksRequestObject) (gen.ListUploadLinksResponseObject, error) {
	account, err := accountOf(ctx)
	if err != nil {
		return nil, err
	}
	links, err := s.catalog.UploadLinks(ctx, account)
	if err != nil {
		return nil, err
	}
	return gen.ListUploadLinks200JSONResponse{Items: bodies(links, uploadLinkBody)}, nil
}

// RevokeUploadLink serves DELETE /v1/upload-links/{link_id}.
func (s *Server) RevokeUploadLink(ctx context.Context, req gen.RevokeUploadLinkRequestObject) (gen.RevokeUploadLinkResponseObject, error) {
	account, err := accountOf(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.catalog.RevokeUploadLink(ctx, account, req.LinkId.String()); err != nil {
		return nil, err
	}
	return gen.RevokeUploadLink204Response{}, nil
}

func seconds(n *int64) time.Duration {
	if n == nil {
		return 0
	}
	return time.Duration(*n) * time.Second
}

// orZero is *p, or T's zero value where the request left p out.
func orZero[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// bodies maps a list's items to their response bodies.
func bodies[T, B any](items []T, body func(T) B) []B {
	out := make([]B, len(items))
	for i, it := range items {
		out[i] = body(it)
	}
	return out
}

func downloadLinkBody(l resources.DownloadLink) gen.DownloadLink {
	return gen.DownloadLink{Id: uuid.MustParse(l.ID), ResourceId: uuid.MustParse(l.ResourceID),
		Disposition: gen.Disposition(l.Disposition), MaxDownloads: l.MaxDownloads, Downloads: l.Downloads,
		CreatedBy: l.CreatedBy, CreatedAt: l.CreatedAt, ExpiresAt: l.ExpiresAt}
}

func uploadLinkBody(l resources.UploadLink) gen.UploadLink {
	return gen.UploadLink{Id: uuid.MustParse(l.ID), DirectoryPath: l.DirectoryPath,
		AllowSubdirectories: l.AllowSubdirectories, MaxBytes: l.MaxBytes, MimeTypes: l.MimeTypes,
		MaxUploads: l.MaxUploads, Uploads: l.Uploads, Tags: l.Tags, CreatedBy: l.CreatedBy,
		CreatedAt: l.CreatedAt, ExpiresAt: l.ExpiresAt}
}

// linkOrigin is what a download link's URL starts with: PUBLIC_URL, else
// the scheme and host the request that made it came to.
func (s *Server) linkOrigin(ctx context.Context) string {
	if s.publicURL != "" {
		return s.publicURL
	}
	origin, _ := ctx.Value(originKey{}).(string)
	return origin
}

type (
	originKey struct{}
	headKey   struct{}
)

// requestFacts is the strict middleware that gives handlers what their
// context does not otherwise carry: the request's scheme and host, for
// CreateDownloadLink's URL, and whether it is a HEAD, which the content
// handlers answer without opening the bytes or spending a link's use.
func requestFacts(f gen.StrictHandlerFunc, operationID string) gen.StrictHandlerFunc {
	return func(c echo.Context, request any) (any, error) {
		r := c.Request()
		ctx := r.Context()
		if strings.EqualFold(operationID, "createDownloadLink") {
			ctx = context.WithValue(ctx, originKey{}, c.Scheme()+"://"+r.Host)
		}
		if r.Method == http.MethodHead {
			ctx = context.WithValue(ctx, headKey{}, true)
		}
		if ctx != r.Context() {
			c.SetRequest(r.WithContext(ctx))
		}
		return f(c, request)
	}
}

// isHead reports whether ctx is a HEAD request's (see requestFacts).
func isHead(ctx context.Context) bool {
	head, _ := ctx.Value(headKey{}).(bool)
	return head
}
