package store

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
)

// WithListenURL sets the PostgreSQL connection ListenEvents holds open:
// a direct one (DATABASE_DIRECT_URL), since a pooler in transaction mode
// cannot carry a LISTEN from one transaction to the next. The default is
// the database URL Open was given.
func WithListenURL(url string) Option {
	return func(o *options) { o.listenURL = url }
}

// ListenEvents calls fn with the account and last sequence of every
// transaction that writes events, committed by any server on the database,
// until ctx ends; after its connection was lost and made again it calls
// fn("", 0), since notifications sent meanwhile are lost. One connection
// serves the whole process, however many streams wait: a stream costs no
// query until its account changes. On SQLite, whose only writer is this
// process, it returns nil at once: OnEvents wakes the streams.
func (db *DB) ListenEvents(ctx context.Context, fn func(account string, sequence int64)) error {
	if db.d.name() != Postgres {
		return nil
	}
	dsn, err := listenDSN(db.listenURL)
	if err != nil {
		return fmt.Errorf("store: listen for events: %w", err)
	}
	l := pq.NewListener(dsn, 100*time.Millisecond, 10*time.Second, nil)
	defer l.Close()
	if err := l.Listen(EventsChannel); err != nil {
		return fmt.Errorf("store: listen for events: %w", err)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case n := <-l.Notify:
			if n == nil {
				// Reconnected: what was sent meanwhile is lost.
				fn("", 0)
				continue
			}
			account, seq, _ := strings.Cut(n.Extra, " ")
			s, err := strconv.ParseInt(seq, 10, 64)
			if err != nil {
				continue // not ours: the channel is public to the database's users
			}
			fn(account, s)
		case <-time.After(time.Minute):
			// A dead connection is only noticed when used.
			if err := l.Ping(); err != nil {
				fn("", 0)
			}
		}
	}
}

// listenDSN is rawURL for lib/pq's listener: without our pool_mode
// parameter, and refused when it names a pooler in transaction mode.
func listenDSN(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("invalid PostgreSQL URL: %w", err)
	}
	q := u.Query()
	if q.Get(poolModeParam) == "transaction" {
		return "", fmt.Errorf("LISTEN needs a direct connection, not a pooler in transaction mode: set DATABASE_DIRECT_URL")
	}
	q.Del(poolModeParam)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
