package server

import (
	"context"
	"errors"

	"github.com/labstack/echo/v4"
)

// statusClientClosed is nginx's status for a request whose client hung up
// before the answer: no one reads it, but logs and metrics should tell it
// apart from a server fault.
const statusClientClosed = 499

// clientGone turns the error of a request abandoned by its client into a
// 499. The request's context is cancelled when the connection closes, the
// store stops its query and returns the cancellation; left alone that would
// read as a 500 and be logged as a server error.
func clientGone(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err != nil && errors.Is(c.Request().Context().Err(), context.Canceled) && errors.Is(err, context.Canceled) {
			return &echo.HTTPError{Code: statusClientClosed, Message: "client closed the request", Internal: err}
		}
		return err
	}
}
