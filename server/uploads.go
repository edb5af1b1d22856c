package server

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/catalog"
	"github.com/re-factor/resources/gen"
	"github.com/re-factor/resources/server/validation"
	"github.com/re-factor/resources/tusupload"
)

// The resumable upload routes (tus) are served by tusupload's handler,
// behind the same middleware as every route: authentication (an account's
// token or an upload link's), the rate limit and the parameters' checks,
// all before a byte of the body is read.

// uploadOps are the operations tusupload serves; their bodies stream.
var uploadOps = []string{"createUpload", "uploadChunk"}

// isUploadOp reports whether op is one of uploadOps (the embedded spec
// carries oapi-codegen's Go names, UploadChunk for uploadChunk).
func isUploadOp(op *validation.Operation) bool {
	return slices.ContainsFunc(uploadOps, func(id string) bool { return strings.EqualFold(id, op.ID) })
}

// newUploads returns the tus handler, or an error saying why the bucket
// cannot take resumable uploads.
func (s *Server) newUploads() (*tusupload.Handler, error) {
	return tusupload.New(tusupload.Config{Catalog: s.catalog, Logger: s.log, Fail: s.uploadFailure,
		Caller: func(ctx context.Context) (tusupload.Caller, error) {
			p, err := principalOf(ctx)
			if err != nil {
				return tusupload.Caller{}, err
			}
			c := tusupload.Caller{Account: p.AccountID, Subject: p.Subject}
			if l, ok := UploadLinkOf(ctx); ok {
				c.Link = &l
			}
			return c, nil
		}})
}

// uploadFailure words err for a tus answer as handleError does for every
// other, and logs what a 500 hides.
func (s *Server) uploadFailure(ctx context.Context, err error) (int, string) {
	status := statusOf(err)
	msg := messageOf(err, status)
	var de *resources.Error
	if errors.As(err, &de) && de.Field != "" && status < http.StatusInternalServerError {
		msg = "Upload-Metadata: " + de.Message()
	}
	if status >= http.StatusInternalServerError {
		s.log.ErrorContext(ctx, "resumable upload failed", "status", status, "error", err.Error())
	}
	return status, msg
}

// uploadRoutes serves the tus operations with the handler.
type uploadRoutes struct{ tus *tusupload.Handler }

func (u uploadRoutes) UploadOptions(c echo.Context) error {
	u.tus.Options(c.Response(), c.Request())
	return nil
}

func (u uploadRoutes) CreateUpload(c echo.Context, _ gen.CreateUploadParams) error {
	u.tus.Create(c.Response(), c.Request())
	return nil
}

// GetUpload serves HEAD, the tus offset request, and GET, the same as
// JSON.
func (u uploadRoutes) GetUpload(c echo.Context, id openapi_types.UUID) error {
	if c.Request().Method == http.MethodHead {
		u.tus.Head(c.Response(), c.Request(), c.Param("id"))
		return nil
	}
	st, err := u.tus.Status(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusOK, st)
}

func (u uploadRoutes) UploadChunk(c echo.Context, _ openapi_types.UUID, _ gen.UploadChunkParams) error {
	u.tus.Patch(c.Response(), c.Request(), c.Param("id"))
	return nil
}

func (u uploadRoutes) TerminateUpload(c echo.Context, _ openapi_types.UUID, _ gen.TerminateUploadParams) error {
	u.tus.Delete(c.Response(), c.Request(), c.Param("id"))
	return nil
}

// errServedByTus is what the strict interface's upload methods return:
// requests never reach them, uploadRoutes serves the routes.
var errServedByTus = errors.New("server: the upload routes are served by tusupload, not the strict handler")

// UploadOptions completes the generated strict interface (see errServedByTus).
func (s *Server) UploadOptions(context.Context, gen.UploadOptionsRequestObject) (gen.UploadOptionsResponseObject, error) {
	return nil, errServedByTus
}

// CreateUpload completes the generated strict interface (see errServedByTus).
func (s *Server) CreateUpload(context.Context, gen.CreateUploadRequestObject) (gen.CreateUploadResponseObject, error) {
	return nil, errServedByTus
}

// GetUpload completes the generated strict interface (see errServedByTus).
func (s *Server) GetUpload(context.Context, gen.GetUploadRequestObject) (gen.GetUploadResponseObject, error) {
	return nil, errServedByTus
}

// UploadChunk completes the generated strict interface (see errServedByTus).
func (s *Server) UploadChunk(context.Context, gen.UploadChunkRequestObject) (gen.UploadChunkResponseObject, error) {
	return nil, errServedByTus
}

// TerminateUpload completes the generated strict interface (see errServedByTus).
func (s *Server) TerminateUpload(context.Context, gen.TerminateUploadRequestObject) (gen.TerminateUploadResponseObject, error) {
	return nil, errServedByTus
}

// uploadBodyLimit is the most bytes a request to the upload routes may
// carry: a whole upload in one PATCH, as tus-js-client sends by default.
func uploadBodyLimit(c *catalog.Service) int64 { return c.MaxUploadBytes() + 1<<20 }
