package validation

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
)

// singleValues refuses a query parameter of op given more than once, which
// OpenAPI cannot forbid: every one of ours is a single value, and the
// generated binder would refuse it in Go's words.
func singleValues(c echo.Context, op *Operation) error {
	for name, values := range c.QueryParams() { // parsed once, for the binder too
		if len(values) > 1 && op.query[name] {
			return &echo.HTTPError{Code: http.StatusBadRequest, Message: fmt.Sprintf(
				"query parameter %q: must be given once (several tags go in one value: tags=a,b)", name)}
		}
	}
	return nil
}
