package server

import (
	"sync"
	"sync/atomic"

	"github.com/labstack/echo/v4"
)

// Drain is how main tells the server that it is shutting down, in the two
// steps it takes on SIGTERM. Begin, at once: /readyz answers 503, so that
// load balancers stop sending requests here, and each response asks its
// client to close the connection, so that the client's next request goes
// through the load balancer to another replica. Stop, once they have had
// time to notice: the listener closes, and responses that would stream
// until their client leaves must end.
type Drain struct {
	begun    atomic.Bool
	stopOnce sync.Once
	stopped  chan struct{}
}

// NewDrain returns a Drain that has not begun.
func NewDrain() *Drain { return &Drain{stopped: make(chan struct{})} }

// Begin starts draining. Calling it again does nothing.
func (d *Drain) Begin() { d.begun.Store(true) }

// Stop begins draining if it has not begun, and closes Stopped.
func (d *Drain) Stop() {
	d.Begin()
	d.stopOnce.Do(func() { close(d.stopped) })
}

// Stopped is closed by Stop. A response that streams until its client
// leaves (the change feed's server-sent events, to come) selects on it and
// ends, after a "retry:" field, so that its client reconnects at once, and
// through the load balancer to a replica that is not stopping: the server's
// shutdown waits for every response in flight, and one that never ended
// would hold the exit until SHUTDOWN_TIMEOUT cut it.
func (d *Drain) Stopped() <-chan struct{} { return d.stopped }

// stoppedChan is Stopped, or nil (never ready) for a nil Drain.
func (d *Drain) stoppedChan() <-chan struct{} {
	if d == nil {
		return nil
	}
	return d.stopped
}

// draining reports whether Begin was called; a nil Drain never begins.
func (d *Drain) draining() bool { return d != nil && d.begun.Load() }

// closeWhenDraining asks the client to close its connection after this
// response once draining has begun. Closing idle connections instead would
// race with a request just sent on one; a client that reads "close" opens
// its next connection through the load balancer.
func closeWhenDraining(d *Drain) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if d.draining() {
				c.Response().Header().Set(echo.HeaderConnection, "close")
			}
			return next(c)
		}
	}
}
