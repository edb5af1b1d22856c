package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/re-factor/resources"
)

// EventsChannel is the PostgreSQL notification channel on which every
// transaction that writes events announces them (payload "account
// sequence", the last of the transaction), so that every server holding a
// stream of the account wakes (listen.go).
const EventsChannel = "resource_events"

// DefaultEventLimit is how many events Events returns when the filter sets
// no limit; MaxEventLimit is the most it returns.
const (
	DefaultEventLimit = 100
	MaxEventLimit     = 1000
)

// eventScanFactor bounds a filtered read: Events reads at most this many
// times the limit of the account's events before it answers with what
// matched, so that a rare filter costs a bounded read, not the whole feed.
const eventScanFactor = 10

// committedHooks are called after a transaction that wrote events commits.
type committedHooks struct {
	mu     sync.RWMutex
	fns    []func(account string, sequence int64)
	queued []func() // OnDeliveriesQueued
}

// OnEvents registers fn to be called, in this process, after every commit
// of this DB that wrote events, with the account and the last sequence
// written. fn must not block: it runs on the writer's goroutine. Other
// processes' commits reach ListenEvents instead (PostgreSQL only).
func (db *DB) OnEvents(fn func(account string, sequence int64)) {
	db.hooks.mu.Lock()
	defer db.hooks.mu.Unlock()
	db.hooks.fns = append(db.hooks.fns, fn)
}

// OnDeliveriesQueued registers fn to be called, in this process, after
// every commit of this DB that put webhook deliveries in the outbox (see
// TakeOutbox). fn must not block: it runs on the writer's goroutine.
func (db *DB) OnDeliveriesQueued(fn func()) {
	db.hooks.mu.Lock()
	defer db.hooks.mu.Unlock()
	db.hooks.queued = append(db.hooks.queued, fn)
}

// committed calls the hooks after a commit that wrote events and queued
// that many deliveries.
func (db *DB) committed(events []resources.Event, queued int) {
	db.hooks.mu.RLock()
	defer db.hooks.mu.RUnlock()
	for _, e := range events {
		for _, fn := range db.hooks.fns {
			fn(e.AccountID, e.Sequence)
		}
	}
	if queued > 0 {
		for _, fn := range db.hooks.queued {
			fn()
		}
	}
}

// appendEventPostgres writes an event and its deliveries on PostgreSQL in
// one statement (appendEvent). Writes run it prepared (prepareWrites):
// planning its parts afresh for every write cost more than running them.
// It counts the resource of a create that left its count to it
// (countAtEvent) first: the account's row of account_counts before its
// event counter, the order in which every writer takes them. The counter's
// part reads the count's, which makes PostgreSQL run them in that order.
const appendEventPostgres = `WITH counted AS (
				INSERT INTO account_counts AS c (account_id, resources)
				SELECT $1, 1 WHERE current_setting('` + countAtEvent + `', true) = 'on'
				ON CONFLICT (account_id) DO UPDATE SET resources = c.resources + 1, generation = EXCLUDED.generation
				RETURNING 1),
			next AS (
				INSERT INTO event_counters AS c (account_id, last_sequence)
				SELECT $1, 1 FROM (SELECT count(*) FROM counted) AS after_count
				ON CONFLICT (account_id) DO UPDATE SET last_sequence = c.last_sequence + 1
				RETURNING last_sequence),
			written AS (
				INSERT INTO events (account_id, sequence, id, type, resource_id, created_at, data)
				SELECT $1, last_sequence, $2, $3, $4, $5, $6 FROM next
				RETURNING sequence),
			delivered AS (
				INSERT INTO webhook_deliveries (account_id, id, endpoint_id, sequence, resource_id, state, attempts, created_at, updated_at)
				SELECT $1, gen_random_uuid(), w.id, n.last_sequence, $4, '` + resources.DeliveryPending + `', 0, $5, $5
				FROM next n, webhook_endpoints w
				WHERE w.account_id = $1 AND w.enabled
					AND (jsonb_array_length(w.types) = 0 OR w.types ? $3)
					AND ($3 = '` + resources.EventImported + `' OR (jsonb_array_length(w.tags) = 0 AND w.directory_prefix = '') OR (
						starts_with(coalesce($6::jsonb #>> '{resource,directory_path}', ''), w.directory_prefix)
						AND (jsonb_array_length(w.tags) = 0 OR w.tags <@ ($6::jsonb #> '{resource,tags}'))))
				RETURNING id, endpoint_id),
			outbox AS (
				INSERT INTO webhook_outbox (account_id, delivery_id, endpoint_id) SELECT $1, id, endpoint_id FROM delivered)
			SELECT sequence, (SELECT count(*) FROM delivered) AS queued
			FROM written, pg_notify('` + EventsChannel + `', $1 || ' ' || sequence)`

// countAtEvent is the setting by which a create's transaction tells that
// its resource is counted by its event's statement, not by the insert
// trigger (migration 0014).
const countAtEvent = "refactor.count_at_event"

// appendEvent writes e in tx with its account's next sequence, which it
// sets in e with a new id, and a pending delivery of it to each enabled
// webhook endpoint of the account whose filter it matches, each with its
// row in the outbox; it returns how many. Holding the account's counter
// row until tx ends is what keeps sequences gapless and in commit order
// (migration 0011).
func (db *DB) appendEvent(ctx context.Context, tx *sqlx.Tx, e *resources.Event) (int, error) {
	e.ID = uuid.NewString()
	e.Timestamp = e.Timestamp.UTC().Truncate(time.Microsecond)
	resourceID := sql.NullString{String: e.ResourceID, Valid: e.ResourceID != ""}
	at := db.d.timeArg(e.Timestamp)
	args := []any{e.AccountID, e.ID, e.Type, resourceID, at, string(e.Data)}
	if db.d.name() == Postgres {
		// One statement, one round trip, for the event and its
		// deliveries: the counter row's lock is held from here to the
		// commit, and every write of the account waits on it. The
		// endpoints' filters are matched here as resources.EventFilter's
		// Match does (TestOutboxMatchesFilters). The notification is
		// delivered at commit, and only then.
		var row struct {
			Sequence int64 `db:"sequence"`
			Queued   int   `db:"queued"`
		}
		err := db.writeStmts.inTx(ctx, tx, appendEventPostgres).GetContext(ctx, &row, args...)
		if err != nil {
			return 0, fmt.Errorf("insert event: %w", err)
		}
		e.Sequence = row.Sequence
		return row.Queued, nil
	}
	err := tx.GetContext(ctx, &e.Sequence, `INSERT INTO event_counters (account_id, last_sequence) VALUES (?, 1)
		ON CONFLICT (account_id) DO UPDATE SET last_sequence = last_sequence + 1
		RETURNING last_sequence`, e.AccountID)
	if err != nil {
		return 0, fmt.Errorf("next event sequence: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO events (account_id, id, type, resource_id, created_at, data, sequence)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, append(args, e.Sequence)...); err != nil {
		return 0, fmt.Errorf("insert event: %w", err)
	}
	eps, err := webhooks(ctx, tx, db.d, e.AccountID, true)
	if err != nil {
		return 0, fmt.Errorf("webhook endpoints: %w", err)
	}
	queued := 0
	for _, ep := range eps {
		if !ep.Filter().Match(*e) {
			continue
		}
		id := uuid.NewString()
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries
			(account_id, id, endpoint_id, sequence, resource_id, state, attempts, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)`, e.AccountID, id, ep.ID, e.Sequence, resourceID,
			resources.DeliveryPending, at, at); err != nil {
			return 0, fmt.Errorf("delivery to %s: %w", ep.ID, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_outbox (account_id, delivery_id, endpoint_id) VALUES (?, ?, ?)`,
			e.AccountID, id, ep.ID); err != nil {
			return 0, fmt.Errorf("outbox: %w", err)
		}
		queued++
	}
	return queued, nil
}

// eventRow is a row of events as Events selects it.
type eventRow struct {
	ID         string         `db:"id"`
	Sequence   int64          `db:"sequence"`
	Type       string         `db:"type"`
	ResourceID sql.NullString `db:"resource_id"`
	CreatedAt  timestamp      `db:"created_at"`
	Data       string         `db:"data"`
}

// Events returns the account's events after f.After that match f, oldest
// first, at most f.Limit (DefaultEventLimit when 0, MaxEventLimit at most),
// and the sequence to read after next time: the last event returned, or,
// when a filter skipped events, the last one read. Unless f.FromOldest, it
// returns an error matching resources.ErrGone when events after f.After
// have been pruned. Events are read where every commit is visible (not on
// a lagging replica): a stream woken by a commit must find its event.
func (db *DB) Events(ctx context.Context, f resources.EventFilter) ([]resources.Event, int64, error) {
	limit := min(f.Limit, MaxEventLimit)
	if limit <= 0 {
		limit = DefaultEventLimit
	}
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	if !f.FromOldest {
		if err := db.checkHeld(tctx, f.AccountID, f.After); err != nil {
			return nil, 0, fmt.Errorf("store: events of %q: %w", f.AccountID, translate(ctx, err))
		}
	}
	w := &where{d: db.d}
	w.and("account_id = " + w.arg(f.AccountID))
	if len(f.Types) > 0 {
		ps := make([]string, len(f.Types))
		for i, t := range f.Types {
			ps[i] = w.arg(t)
		}
		w.and("type IN (" + strings.Join(ps, ", ") + ")")
	}
	query := `SELECT id, sequence, type, resource_id, ` + db.d.unixMicros("created_at") + ` AS created_at, data
		FROM events WHERE ` + strings.Join(w.conds, " AND ") + ` AND sequence > `
	var out []resources.Event
	next := f.After
	for scanned := 0; len(out) < limit && scanned < eventScanFactor*limit; {
		var rows []eventRow
		err := db.current.SelectContext(tctx, &rows, query+w.d.placeholder(len(w.args)+1)+` ORDER BY sequence LIMIT `+
			strconv.Itoa(limit), append(w.args, next)...)
		if err != nil {
			return nil, 0, fmt.Errorf("store: events of %q: %w", f.AccountID, translate(ctx, err))
		}
		for _, row := range rows {
			next = row.Sequence
			if e := row.event(f.AccountID); f.Match(e) {
				if out = append(out, e); len(out) == limit {
					break
				}
			}
		}
		if scanned += len(rows); len(rows) < limit {
			break
		}
	}
	return out, next, nil
}

func (row eventRow) event(account string) resources.Event {
	return resources.Event{ID: row.ID, AccountID: account, Sequence: row.Sequence, Type: row.Type,
		Timestamp: row.CreatedAt.t, ResourceID: row.ResourceID.String, Data: []byte(row.Data)}
}

// checkHeld returns an error matching resources.ErrGone when the account's
// events right after sequence after have been pruned.
func (db *DB) checkHeld(ctx context.Context, account string, after int64) error {
	oldest, _, err := db.eventBounds(ctx, account)
	if err != nil {
		return err
	}
	if after < oldest-1 {
		return &resources.Error{Kind: resources.ErrGone, Field: "after",
			Reason: fmt.Sprintf("events after %d have been pruned; the oldest held is %d", after, oldest),
			Err:    &resources.EventsGone{Oldest: oldest}}
	}
	return nil
}

// EventBounds returns the account's oldest held sequence (one past the
// last when none is held: all were pruned, or there were none) and its
// last sequence (0 before its first event).
func (db *DB) EventBounds(ctx context.Context, account string) (oldest, last int64, err error) {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	if oldest, last, err = db.eventBounds(tctx, account); err != nil {
		return 0, 0, fmt.Errorf("store: event bounds of %q: %w", account, translate(ctx, err))
	}
	return oldest, last, nil
}

func (db *DB) eventBounds(ctx context.Context, account string) (oldest, last int64, err error) {
	// The counter before the events: an event committed in between then
	// only makes oldest smaller, never a pruned one look held.
	err = db.current.GetContext(ctx, &last, db.current.Rebind(`SELECT last_sequence FROM event_counters WHERE account_id = ?`), account)
	if errors.Is(err, sql.ErrNoRows) {
		return 1, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	var min sql.NullInt64
	if err := db.current.GetContext(ctx, &min, db.current.Rebind(`SELECT min(sequence) FROM events WHERE account_id = ?`), account); err != nil {
		return 0, 0, err
	}
	if !min.Valid {
		return last + 1, last, nil
	}
	return min.Int64, last, nil
}

// PruneEvents deletes every account's events that happened before cutoff
// and returns how many. Sequences go on from where they were: the counters
// stay.
func (db *DB) PruneEvents(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := db.inTx(ctx, func(tctx context.Context, tx *sqlx.Tx) error {
		res, err := tx.ExecContext(tctx, tx.Rebind(`DELETE FROM events WHERE created_at < ?`), db.d.timeArg(cutoff))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: prune events before %s: %w", cutoff.Format(time.RFC3339), translate(ctx, err))
	}
	return n, nil
}
