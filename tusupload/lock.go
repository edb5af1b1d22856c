package tusupload

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/re-factor/resources"
)

// locker is tusd's locker over the upload's lease, a row every replica
// reads (catalog.LockUpload): no session state on a pooled connection, so
// it holds through PgBouncer in transaction mode, and a crashed holder's
// lease lapses after LeaseTTL. A request that waits marks the row; the
// holder sees the mark when it renews and lets go (tusd then ends its
// request, keeping the bytes it stored), as tusd's own lockers do within
// one process.
type locker struct{ h *Handler }

func (l locker) NewLock(id string) (handler.Lock, error) {
	return &lease{h: l.h, id: id}, nil
}

type lease struct {
	h       *Handler
	id      string
	account string
	holder  string
	stop    chan struct{}
	stopped sync.WaitGroup
}

// errLocked is the answer when the upload stays held past LockWait.
var errLocked = handler.Error{ErrorCode: "ERR_UPLOAD_LOCKED", Message: "upload is locked",
	HTTPResponse: handler.HTTPResponse{StatusCode: http.StatusLocked,
		Body:   `{"error":"another request is writing this upload and did not let go in time; retry shortly"}` + "\n",
		Header: handler.HTTPHeader{"Content-Type": "application/json"}}}

// Lock takes the upload's lease, waiting (with growing pauses) while
// another request holds it, until ctx ends.
func (l *lease) Lock(ctx context.Context, requestRelease func()) error {
	if stateOf(ctx).readOnly {
		return nil
	}
	c, err := l.h.cfg.Caller(ctx)
	if err != nil {
		return l.h.fail(ctx, err)
	}
	l.account = c.Account
	l.holder = l.h.process + "-" + strconv.FormatInt(l.h.holders.Add(1), 10)
	pause := 20 * time.Millisecond
	for {
		ok, err := l.h.cfg.Catalog.LockUpload(ctx, l.account, l.id, l.holder, l.h.cfg.LeaseTTL)
		if err != nil {
			return l.h.fail(ctx, err)
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			return errLocked
		case <-time.After(pause):
		}
		pause = min(2*pause, 500*time.Millisecond)
	}
	stateOf(ctx).holder = l.holder
	l.stop = make(chan struct{})
	l.stopped.Add(1)
	go l.renew(requestRelease)
	return nil
}

// renew extends the lease every third of LeaseTTL until Unlock, and asks
// the request to end when another waits or the lease was lost.
func (l *lease) renew(requestRelease func()) {
	defer l.stopped.Done()
	t := time.NewTicker(l.h.cfg.LeaseTTL / 3)
	defer t.Stop()
	released := false
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.h.cfg.LeaseTTL/3)
		wanted, err := l.h.cfg.Catalog.RenewUploadLock(ctx, l.account, l.id, l.holder, l.h.cfg.LeaseTTL)
		cancel()
		lost := errors.Is(err, resources.ErrConflict)
		if err != nil && !lost {
			l.h.cfg.Logger.Warn("upload lease not renewed", "id", l.id, "error", err.Error())
		}
		if (wanted || lost) && !released {
			released = true
			requestRelease()
		}
	}
}

// Unlock gives the lease up.
func (l *lease) Unlock() error {
	if l.stop == nil {
		return nil // a HEAD's, which took none
	}
	close(l.stop)
	l.stopped.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return l.h.cfg.Catalog.UnlockUpload(ctx, l.account, l.id, l.holder)
}
