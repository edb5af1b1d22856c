package catalog

import (
	"context"
	"sync"
	"time"

	"github.com/re-factor/resources"
)

// DefaultEventsRetention is how long events are kept when EVENTS_RETENTION
// does not say.
const DefaultEventsRetention = 7 * 24 * time.Hour

// Events returns the account's events after f.After that match f, oldest
// first, and the sequence to read after next (store.DB.Events). It returns
// an error matching resources.ErrGone, caused by a *resources.EventsGone,
// when events after f.After have been pruned.
func (s *Service) Events(ctx context.Context, f resources.EventFilter) ([]resources.Event, int64, error) {
	return s.db.Events(ctx, f)
}

// PruneEvents deletes the events older than retention and returns how
// many.
func (s *Service) PruneEvents(ctx context.Context, retention time.Duration) (int64, error) {
	return s.db.PruneEvents(ctx, s.now().Add(-retention))
}

// A Watch tells a stream of one account's events when to read again. It
// costs nothing while the account does not change: wake-ups come from the
// process's commits and, on PostgreSQL, from one LISTEN connection shared
// by every stream (ListenEvents).
type Watch struct {
	// Last is the account's last sequence when the watch began: a stream
	// that asks for no earlier point starts after it.
	Last int64
	c    chan struct{}
	stop func()
}

// Changed receives when the account may have new events since the last
// receive (or since the watch began).
func (w *Watch) Changed() <-chan struct{} { return w.c }

// Stop ends the watch.
func (w *Watch) Stop() { w.stop() }

// Watch begins watching the account's events. Stop it when done.
func (s *Service) Watch(ctx context.Context, account string) (*Watch, error) {
	w := &Watch{c: make(chan struct{}, 1)}
	w.stop = s.feed.add(account, w.c)
	// After subscribing: an event committed in between wakes the watch,
	// and is read, rather than falling between the two.
	_, last, err := s.db.EventBounds(ctx, account)
	if err != nil {
		w.stop()
		return nil, err
	}
	w.Last = last
	return w, nil
}

// ListenEvents wakes this process's watches on every other server's
// commits, until ctx ends (store.DB.ListenEvents); on SQLite, where this
// process is the only writer, it returns at once.
func (s *Service) ListenEvents(ctx context.Context) error {
	return s.db.ListenEvents(ctx, s.feed.wake)
}

// feed holds the watches of each account.
type feed struct {
	mu      sync.Mutex
	watches map[string]map[chan struct{}]struct{}
}

func newFeed() *feed { return &feed{watches: map[string]map[chan struct{}]struct{}{}} }

func (f *feed) add(account string, c chan struct{}) (stop func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.watches[account] == nil {
		f.watches[account] = map[chan struct{}]struct{}{}
	}
	f.watches[account][c] = struct{}{}
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.watches[account], c)
		if len(f.watches[account]) == 0 {
			delete(f.watches, account)
		}
	}
}

// wake wakes the account's watches, or every watch when account is "" (a
// listener that lost notifications). A watch already woken stays so: it
// reads everything new when it gets to it.
func (f *feed) wake(account string, _ int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if account != "" {
		notify(f.watches[account])
		return
	}
	for _, ws := range f.watches {
		notify(ws)
	}
}

func notify(ws map[chan struct{}]struct{}) {
	for c := range ws {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}
