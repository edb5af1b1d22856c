package server

import (
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// lingerTime bounds how long the server reads and discards what a client
// still sends after an early answer.
const lingerTime = 3 * time.Second

// lingerAfterEarlyAnswer makes an answer given before the request's body was
// read to its end reach clients that send their whole body before reading.
//
// Requests are refused on their headers where they can be (401, 403, 413,
// 415, 429), and a create stops reading when its content fails, so the
// answer often goes out while the client is still sending. Python's urllib,
// or Go's client without Expect: 100-continue, reads nothing until it has
// sent everything; if the server then closed the connection with the body
// unread, its kernel would send a reset, and the client's kernel would drop
// the answer with it. So such an answer says Connection: close, is flushed,
// and what the client still sends is read and discarded, for at most
// lingerTime and maxBytes, before the connection closes. Memory stays a
// read buffer.
func lingerAfterEarlyAnswer(maxBytes int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			// A client that asked to be told to go on (Expect: 100-continue)
			// sends no body unless it is read.
			if r.Body == nil || r.Body == http.NoBody || r.Header.Get("Expect") != "" {
				return next(c)
			}
			body := &watchedBody{ReadCloser: r.Body}
			r.Body = body
			res := c.Response()
			res.Before(func() {
				if !body.ended.Load() {
					res.Header().Set(echo.HeaderConnection, "close")
				}
			})
			err := next(c)
			if err != nil && !res.Committed {
				c.Error(err)
				err = nil
			}
			if !body.ended.Load() && res.Committed {
				res.Flush()
				discard(res, body.ReadCloser, maxBytes)
			}
			return err
		}
	}
}

// discard reads and drops up to max bytes of body, for at most lingerTime.
func discard(w http.ResponseWriter, body io.Reader, max int64) {
	if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(lingerTime)); err != nil {
		return // without a deadline the wait would be unbounded: close at once
	}
	_, _ = io.CopyN(io.Discard, body, max)
}

// watchedBody notes when the body has been read to its end.
type watchedBody struct {
	io.ReadCloser
	ended atomic.Bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.ended.Store(true)
	}
	return n, err
}
