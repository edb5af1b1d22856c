package server

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/re-factor/resources/server/validation"
)

// MaxBodyBytes is the largest request body the server reads for a content
// cap of maxContent: the content in base64 (4 bytes per 3) plus room for
// metadata and the other fields.
func MaxBodyBytes(maxContent int64) int64 {
	return maxContent/3*4 + 4 + 1<<20
}

// limitBody refuses bodies over limit(c) bytes with 413: at once when
// Content-Length says so, else when reading passes the limit.
func limitBody(limit func(echo.Context) int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r, max := c.Request(), limit(c)
			if r.ContentLength > max {
				return &echo.HTTPError{Code: http.StatusRequestEntityTooLarge,
					Message: fmt.Sprintf("request body is larger than %d bytes", max)}
			}
			r.Body = http.MaxBytesReader(c.Response(), r.Body, max)
			return next(c)
		}
	}
}

// requireBodyType answers 415 to a request whose body is not of a media
// type its operation takes, before validation would call it a 400. A
// request without a body, and without a type, passes when its operation's
// body is optional (a tus upload's creation).
func requireBodyType(v *validation.Validator) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			op, ok := v.Operation(c)
			r := c.Request()
			if !ok || len(op.BodyTypes) == 0 || op.Accepts(r.Header.Get(echo.HeaderContentType)) ||
				!op.BodyRequired && r.ContentLength == 0 && r.Header.Get(echo.HeaderContentType) == "" {
				return next(c)
			}
			msg := fmt.Sprintf("request body must be %s: send Content-Type: %[1]s", strings.Join(op.BodyTypes, " or "))
			if slices.Equal(op.BodyTypes, []string{echo.MIMEApplicationJSON}) {
				msg = "request body must be JSON: send Content-Type: application/json"
			}
			return &echo.HTTPError{Code: http.StatusUnsupportedMediaType, Message: msg}
		}
	}
}
