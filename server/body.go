package server

import (
	"errors"
	"fmt"
	"mime"
	"net/http"

	"github.com/labstack/echo/v4"
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

// errNotJSON is a write request whose body is not declared as JSON.
var errNotJSON = errors.New("request body must be JSON: send Content-Type: application/json")

// requireJSON answers 415 to a body-carrying request that is not JSON,
// before validation would call it a 400.
func requireJSON(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			return next(c)
		}
		mt, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
		if err != nil || mt != echo.MIMEApplicationJSON {
			return &echo.HTTPError{Code: http.StatusUnsupportedMediaType, Message: errNotJSON.Error()}
		}
		return next(c)
	}
}
