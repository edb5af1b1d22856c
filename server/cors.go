package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// corsMaxAge lets browsers reuse a preflight answer for ten minutes.
const corsMaxAge = 600

// cors lets browser front ends on the given origins call the API: it answers
// preflight requests itself (before validation, which knows no OPTIONS
// operations), allows the bearer header and exposes the request id so a
// front end can quote it. No cookies are used, so credentials stay off.
func cors(origins []string) echo.MiddlewareFunc {
	mw := middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOrigins: origins,
		AllowMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete,
			http.MethodPatch},
		AllowHeaders: append([]string{echo.HeaderAuthorization, echo.HeaderContentType, echo.HeaderXRequestID}, tusRequestHeaders...),
		ExposeHeaders: append([]string{echo.HeaderXRequestID, echo.HeaderWWWAuthenticate, echo.HeaderRetryAfter,
			echo.HeaderContentLength}, tusAnswerHeaders...),
		MaxAge: corsMaxAge,
	})
	// An OPTIONS that is no preflight (tus discovery) goes to its route:
	// echo's CORS would answer every OPTIONS itself.
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		withCORS := mw(next)
		return func(c echo.Context) error {
			r := c.Request()
			if r.Method == http.MethodOptions && r.Header.Get(echo.HeaderAccessControlRequestMethod) == "" {
				return next(c)
			}
			return withCORS(c)
		}
	}
}

// tusRequestHeaders are the headers a browser's tus client sends
// (tus-js-client, Uppy); tusAnswerHeaders those it must read.
var (
	tusRequestHeaders = []string{"Tus-Resumable", "Upload-Length", "Upload-Offset", "Upload-Metadata",
		"Upload-Defer-Length", "Upload-Concat", "X-HTTP-Method-Override"}
	tusAnswerHeaders = []string{echo.HeaderLocation, "Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size",
		"Upload-Offset", "Upload-Length", "Upload-Expires", "Upload-Metadata", "Upload-Defer-Length"}
)
