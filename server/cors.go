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
	return middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOrigins: origins,
		AllowMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete},
		AllowHeaders: []string{echo.HeaderAuthorization, echo.HeaderContentType, echo.HeaderXRequestID},
		ExposeHeaders: []string{echo.HeaderXRequestID, echo.HeaderWWWAuthenticate, echo.HeaderRetryAfter,
			echo.HeaderContentLength},
		MaxAge: corsMaxAge,
	})
}
