package blobstore

import (
	"context"
	"fmt"
	"time"
)

// Two kinds of deadline bound what the Store asks of the storage. An
// operation that should be quick whatever the size of the content (a ping, a
// delete, a page of a listing) gets a whole-operation deadline: withTimeout.
// A transfer (a Put, a range read) may rightly take long, so it gets a stall
// deadline instead: a watchdog that fails it when one step, the open, a read,
// a write or the final close, takes longer than the timeout. Either way the
// driver's context ends, which also ends its retries, and the error wraps
// ErrUnavailable.

// timedOut is the cause given to an operation's context when the storage did
// not answer within d.
func timedOut(d time.Duration) error {
	return fmt.Errorf("%w: no answer within %v", ErrUnavailable, d)
}

// withTimeout returns ctx bounded by the Store's timeout, for one
// whole operation.
func (s *Store) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, s.timeout, timedOut(s.timeout))
}

// watchdog ends the context of a transfer when one of its steps runs longer
// than the timeout. Steps are sequential: a watchdog is not for concurrent
// use.
type watchdog struct {
	ctx    context.Context // the transfer's: hand it to the driver
	cancel context.CancelCauseFunc
	timer  *time.Timer
	d      time.Duration
}

// newWatchdog returns a watchdog for a transfer under ctx. Call stop when
// the transfer is over.
func (s *Store) newWatchdog(ctx context.Context) *watchdog {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &watchdog{ctx: ctx, cancel: cancel, d: s.timeout}
	w.timer = time.AfterFunc(time.Hour, func() { cancel(timedOut(w.d)) })
	w.timer.Stop()
	return w
}

// step runs f, one step of the transfer, under the stall deadline.
func (w *watchdog) step(f func() error) error {
	w.timer.Reset(w.d)
	defer w.timer.Stop()
	return f()
}

// stop ends the transfer's context.
func (w *watchdog) stop() {
	w.timer.Stop()
	w.cancel(context.Canceled)
}
