package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"

	"github.com/re-factor/resources/auth"
	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/urlfetch"
)

// statuses maps our sentinel errors to HTTP statuses; it is the only such table.
var statuses = []struct {
	err    error
	status int
}{
	{auth.ErrUnauthenticated, http.StatusUnauthorized},
	{auth.ErrForbidden, http.StatusForbidden},
	{store.ErrInvalid, http.StatusBadRequest},
	{store.ErrNotFound, http.StatusNotFound},
	{store.ErrConflict, http.StatusConflict},
	{store.ErrUnavailable, http.StatusServiceUnavailable},
	{blobstore.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{blobstore.ErrUnavailable, http.StatusServiceUnavailable},
	{errBadContent, http.StatusBadRequest},
	{urlfetch.ErrBadURL, http.StatusBadRequest},
	{urlfetch.ErrRefused, http.StatusBadRequest},
	{urlfetch.ErrFetch, http.StatusBadRequest},
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
	h := c.Response().Header()
	switch status {
	case http.StatusUnauthorized:
		h.Set(echo.HeaderWWWAuthenticate, auth.Challenge(err))
	case http.StatusServiceUnavailable:
		h.Set(echo.HeaderRetryAfter, "1")
	}
	if c.Request().Method == http.MethodHead {
		err = c.NoContent(status)
	} else {
		err = c.JSON(status, map[string]string{"error": msg})
	}
	if err != nil {
		s.log.WarnContext(c.Request().Context(), "writing error response", "error", err.Error())
	}
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
	var ve *store.ValidationError
	var ce *contentError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &re):
		return describeRequestError(re)
	case errors.As(err, &ve):
		// Body fields: the list handler words its query's own, and the
		// request validator refuses all the store would but for the prose
		// rules of metadata.
		return "request body: " + ve.Error()
	case errors.As(err, &ce):
		return ce.Error()
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

// describeRequestError turns a kin-openapi validation failure into one line
// naming the parameter and the rule it broke, without the schema dump.
func describeRequestError(re *openapi3filter.RequestError) string {
	reason := re.Reason
	var se *openapi3.SchemaError
	var pe *openapi3filter.ParseError
	switch {
	case errors.As(re.Err, &se):
		reason = describeSchemaError(se)
	case errors.As(re.Err, &pe) && re.RequestBody != nil:
		return "request body is not valid JSON"
	case errors.As(re.Err, &pe):
		reason = describeParseError(pe)
	case re.Err != nil:
		reason = firstLine(re.Err.Error())
	}
	if p := re.Parameter; p != nil {
		return fmt.Sprintf("%s parameter %q: %s", p.In, p.Name, reason)
	}
	if re.RequestBody != nil {
		return "request body: " + reason
	}
	return firstLine(re.Error())
}

// describeParseError explains a value that could not be read as its type,
// without echoing the (possibly huge) value.
func describeParseError(pe *openapi3filter.ParseError) string {
	if errors.Is(pe.Cause, strconv.ErrRange) {
		return "is out of range"
	}
	if pe.Reason != "" {
		return "is " + pe.Reason
	}
	return "cannot be parsed"
}

// describeSchemaError says which rule a value broke, and where in a body.
func describeSchemaError(se *openapi3.SchemaError) string {
	se = leafSchemaError(se)
	reason := describeRule(se)
	if path := se.JSONPointer(); len(path) > 0 {
		return strings.Join(path, ".") + ": " + reason
	}
	return reason
}

// leafSchemaError returns the failure itself: the JSON Schema 2020-12
// validator nests the keyword that failed under wrappers for the schema and
// its $refs.
func leafSchemaError(se *openapi3.SchemaError) *openapi3.SchemaError {
	for {
		var causes openapi3.MultiError
		var next *openapi3.SchemaError
		if !errors.As(se.Origin, &causes) || len(causes) == 0 || !errors.As(causes[0], &next) {
			return se
		}
		se = next
	}
}

func describeRule(se *openapi3.SchemaError) string {
	s := se.Schema
	switch {
	case s == nil:
	case se.SchemaField == "minimum" && s.Min != nil:
		return fmt.Sprintf("must be at least %v", *s.Min)
	case se.SchemaField == "maximum" && s.Max != nil:
		return fmt.Sprintf("must be at most %v", *s.Max)
	case se.SchemaField == "maxItems" && s.MaxItems != nil:
		return fmt.Sprintf("must have at most %d items", *s.MaxItems)
	case se.SchemaField == "required":
		return "is required"
	case se.SchemaField == "pattern":
		if rule, ok := s.Extensions["x-pattern-rule"].(string); ok {
			return rule
		}
	case se.SchemaField == "format" && s.Format == "uuid":
		return "must be a UUID such as 75e35926-dd42-5b28-8493-ea7133ef5dcd"
	case se.SchemaField == "format" && s.Format == "uri":
		return "must be an absolute URI"
	case se.SchemaField == "minLength" && s.MinLength == 1:
		return "must not be empty"
	case se.SchemaField == "minLength":
		return fmt.Sprintf("must be at least %d characters long", s.MinLength)
	case se.SchemaField == "maxLength" && s.MaxLength != nil:
		return fmt.Sprintf("must be at most %d characters long", *s.MaxLength)
	case se.SchemaField == "enum":
		return fmt.Sprintf("must be one of %s", enumList(s.Enum))
	case se.SchemaField == "format" && s.Format == "date-time":
		return "must be an RFC 3339 date-time with a zone, such as 2024-01-02T15:04:05Z (send + as %2B)"
	case se.SchemaField == "type" && s.Type != nil:
		return "must be of type " + strings.Join(s.Type.Slice(), " or ")
	}
	reason := firstLine(se.Reason)
	if _, after, ok := strings.Cut(reason, "': "); ok && strings.HasPrefix(reason, "at '") {
		reason = after
	}
	return reason
}

func enumList(values []any) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ", ")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
