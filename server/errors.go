package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/auth"
	"github.com/re-factor/resources/server/validation"
	"github.com/re-factor/resources/upload"
)

// statuses maps our sentinel errors to HTTP statuses; it is the only such table.
var statuses = []struct {
	err    error
	status int
}{
	{auth.ErrUnauthenticated, http.StatusUnauthorized},
	{auth.ErrForbidden, http.StatusForbidden},
	{resources.ErrInvalid, http.StatusBadRequest},
	{resources.ErrNotFound, http.StatusNotFound},
	{resources.ErrConflict, http.StatusConflict},
	{resources.ErrForbidden, http.StatusForbidden},
	{resources.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{resources.ErrTooMany, http.StatusTooManyRequests},
	{resources.ErrGone, http.StatusGone},
	{resources.ErrUnavailable, http.StatusServiceUnavailable},
	{upload.ErrInvalid, http.StatusBadRequest},
	{upload.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{context.DeadlineExceeded, http.StatusServiceUnavailable},
}

// badRequest is a client mistake the handler itself found (400).
func badRequest(msg string) error {
	return &echo.HTTPError{Code: http.StatusBadRequest, Message: msg}
}

// statusOf returns the status for err, 500 when it is none of ours.
func statusOf(err error) int {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he.Code
	}
	for _, s := range statuses {
		if errors.Is(err, s.err) {
			return s.status
		}
	}
	return http.StatusInternalServerError
}

// handleError is echo's HTTPErrorHandler, so every failure, from routing,
// validation, authentication or a handler, is rendered here as {"error"}.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status := statusOf(err)
	msg := messageOf(err, status)
	if c.Path() == "" { // no route matched: the path is in no operation of the spec
		msg = "no matching operation was found"
	}
	h := c.Response().Header()
	switch status {
	case http.StatusUnauthorized:
		h.Set(echo.HeaderWWWAuthenticate, auth.Challenge(err))
	case http.StatusServiceUnavailable:
		h.Set(echo.HeaderRetryAfter, "1")
	}
	if err := writeError(c, status, msg); err != nil {
		s.log.WarnContext(c.Request().Context(), "writing error response", "error", err.Error())
	}
}

// writeError writes the {"error"} body with its length, so that the answer
// is whole on the wire once flushed, even while the connection lingers to
// drain a body the request did not need (linger.go).
func writeError(c echo.Context, status int, msg string) error {
	b, err := json.Marshal(map[string]string{"error": msg})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentLength, strconv.Itoa(len(b)))
	return c.Blob(status, echo.MIMEApplicationJSON, b)
}

// messageOf says what went wrong in words a client can act on, and nothing
// internal: 5xx bodies are fixed sentences; the log has the cause.
func messageOf(err error, status int) string {
	switch {
	case status == http.StatusServiceUnavailable:
		return "the service is temporarily unavailable; retry shortly"
	case status >= http.StatusInternalServerError:
		return "internal error; the request id identifies it in the server's log"
	}
	var re *openapi3filter.RequestError
	var de *resources.Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &re):
		return validation.Describe(re)
	case errors.As(err, &de) && de.Field != "":
		// Body fields: the list handler words its query's own.
		return "request body: " + de.Message()
	case errors.As(err, &de):
		return de.Message()
	case errors.As(err, &he):
		if he.Internal != nil && statusOf(he.Internal) == status {
			return he.Internal.Error()
		}
		if m, ok := he.Message.(string); ok && m != "" {
			return m
		}
	}
	if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
		return strings.ToLower(http.StatusText(status))
	}
	return err.Error()
}
