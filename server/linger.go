package server

import (
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

const (
	// lingerPause is how long the server waits, reading nothing, for the
	// client to hang up after an early answer: a client that reads while it
	// sends (curl, Go's client) sees the answer and goes, and what it had
	// in flight is never read.
	lingerPause = 200 * time.Millisecond
	// lingerTime bounds how long the server then reads and discards what
	// a client still sends.
	lingerTime = 3 * time.Second
)

// lingerAfterEarlyAnswer makes an answer given before the request's body was
// read to its end reach clients that send their whole body before reading.
//
// Requests are refused on their headers where they can be (401, 403, 413,
// 415, 429), and a create stops reading when its content fails, so the
// answer often goes out while the client is still sending. Python's urllib,
// or Go's client without Expect: 100-continue, reads nothing until it has
// sent everything; if the server then closed the connection with the body
// unread, its kernel would send a reset, and the client's kernel would drop
// the answer with it. So such an answer says Connection: close, and once it
// is written the server takes the connection over (linger).
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
			c.Set(watchedBodyKey, body)
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
				linger(res, maxBytes)
			}
			return err
		}
	}
}

// linger sends the answer written to w, half-closes the connection and
// waits up to lingerPause for the client to hang up; if it does not, it
// reads and discards up to maxBytes of what the client sends, for at most
// lingerTime, then closes. The answer must carry its length (errors do:
// writeError), since the connection is taken from net/http. Where it cannot
// be (HTTP/2, a test recorder), net/http closes the connection as usual.
func linger(w http.ResponseWriter, maxBytes int64) {
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		return
	}
	conn, rw, err := rc.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	if err := rw.Flush(); err != nil {
		return
	}
	if tc, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
	for end := time.Now().Add(lingerPause); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if peerClosed(conn) {
			return
		}
	}
	if conn.SetReadDeadline(time.Now().Add(lingerTime)) == nil {
		_, _ = io.CopyN(io.Discard, rw, maxBytes)
	}
}

// watchedBodyKey finds a request's watchedBody in its echo.Context, for
// the access log.
const watchedBodyKey = "server.watchedBody"

// watchedBody counts what the handlers read of the body and notes when they
// reach its end.
type watchedBody struct {
	io.ReadCloser
	read  atomic.Int64
	ended atomic.Bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.read.Add(int64(n))
	if err == io.EOF {
		b.ended.Store(true)
	}
	return n, err
}
