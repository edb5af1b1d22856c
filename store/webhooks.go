package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/re-factor/resources"
)

// Tx is a write transaction as the callers of InTx see it: what the
// webhooks package writes there, and the *sql.Tx a job queue inserts its
// jobs through, so that they commit or roll back with the rest.
type Tx struct {
	db *DB
	tx *sqlx.Tx
}

// SQL returns the transaction itself.
func (t Tx) SQL() *sql.Tx { return t.tx.Tx }

// InTx runs fn in a write transaction and commits it unless fn fails.
func (db *DB) InTx(ctx context.Context, fn func(context.Context, Tx) error) error {
	err := db.inTx(ctx, func(tctx context.Context, tx *sqlx.Tx) error { return fn(tctx, Tx{db: db, tx: tx}) })
	if err != nil {
		return fmt.Errorf("store: %w", translate(ctx, err))
	}
	return nil
}

// Pool returns the pool that writes, for a job queue that keeps its jobs
// in the same database (River's drivers take a *sql.DB).
func (db *DB) Pool() *sql.DB { return db.write.DB.DB }

const webhookColumns = `id, account_id, url, description, types, tags, directory_prefix, secret, previous_secret,
	previous_expires_at, enabled, disabled_reason, created_at, updated_at`

type webhookRow struct {
	ID                string       `db:"id"`
	AccountID         string       `db:"account_id"`
	URL               string       `db:"url"`
	Description       string       `db:"description"`
	Types             stringList   `db:"types"`
	Tags              stringList   `db:"tags"`
	DirectoryPrefix   string       `db:"directory_prefix"`
	Secret            string       `db:"secret"`
	PreviousSecret    optionalText `db:"previous_secret"`
	PreviousExpiresAt *timestamp   `db:"previous_expires_at"`
	Enabled           bool         `db:"enabled"`
	DisabledReason    optionalText `db:"disabled_reason"`
	CreatedAt         timestamp    `db:"created_at"`
	UpdatedAt         timestamp    `db:"updated_at"`
}

func newWebhookRow(d dialect, w resources.WebhookEndpoint) webhookRow {
	row := webhookRow{ID: w.ID, AccountID: w.AccountID, URL: w.URL, Description: w.Description,
		Types: w.Types, Tags: w.Tags, DirectoryPrefix: w.DirectoryPrefix, Secret: w.Secret,
		PreviousSecret: optionalText{w.PreviousSecret}, Enabled: w.Enabled, DisabledReason: optionalText{w.DisabledReason},
		CreatedAt: d.timeArg(w.CreatedAt), UpdatedAt: d.timeArg(w.UpdatedAt)}
	if w.PreviousExpiresAt != nil {
		t := d.timeArg(*w.PreviousExpiresAt)
		row.PreviousExpiresAt = &t
	}
	return row
}

func (row webhookRow) endpoint() resources.WebhookEndpoint {
	w := resources.WebhookEndpoint{ID: row.ID, AccountID: row.AccountID, URL: row.URL, Description: row.Description,
		Types: row.Types, Tags: row.Tags, DirectoryPrefix: row.DirectoryPrefix, Secret: row.Secret,
		PreviousSecret: row.PreviousSecret.s, Enabled: row.Enabled, DisabledReason: row.DisabledReason.s,
		CreatedAt: row.CreatedAt.t, UpdatedAt: row.UpdatedAt.t}
	if row.PreviousExpiresAt != nil {
		t := row.PreviousExpiresAt.t
		w.PreviousExpiresAt = &t
	}
	return w
}

// selectWebhooks is the select list of webhook_endpoints, times as Unix
// microseconds.
func selectWebhooks(d dialect) string {
	return `SELECT id, account_id, url, description, types, tags, directory_prefix, secret, previous_secret, ` +
		d.unixMicros("previous_expires_at") + ` AS previous_expires_at, enabled, disabled_reason, ` +
		d.unixMicros("created_at") + ` AS created_at, ` + d.unixMicros("updated_at") + ` AS updated_at
		FROM webhook_endpoints`
}

// CreateWebhook stores a new endpoint.
func (db *DB) CreateWebhook(ctx context.Context, w resources.WebhookEndpoint) error {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	if _, err := db.write.NamedExecContext(tctx, `INSERT INTO webhook_endpoints (`+webhookColumns+`)
		VALUES (:id, :account_id, :url, :description, :types, :tags, :directory_prefix, :secret, :previous_secret,
		:previous_expires_at, :enabled, :disabled_reason, :created_at, :updated_at)`, newWebhookRow(db.d, w)); err != nil {
		return fmt.Errorf("store: create webhook: %w", translate(ctx, err))
	}
	return nil
}

// UpdateWebhook replaces the stored endpoint w.ID of w.AccountID with w. It
// returns an error matching resources.ErrNotFound when there is none.
func (db *DB) UpdateWebhook(ctx context.Context, w resources.WebhookEndpoint) error {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	res, err := db.write.NamedExecContext(tctx, `UPDATE webhook_endpoints SET url = :url, description = :description,
		types = :types, tags = :tags, directory_prefix = :directory_prefix, secret = :secret,
		previous_secret = :previous_secret, previous_expires_at = :previous_expires_at, enabled = :enabled,
		disabled_reason = :disabled_reason, updated_at = :updated_at
		WHERE account_id = :account_id AND id = :id`, newWebhookRow(db.d, w))
	if err == nil {
		err = oneRow(res, "webhook")
	}
	if err != nil {
		return fmt.Errorf("store: update webhook %s: %w", w.ID, translate(ctx, err))
	}
	return nil
}

// DisableWebhook disables the endpoint, saying why.
func (db *DB) DisableWebhook(ctx context.Context, accountID, id, reason string, now time.Time) error {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	_, err := db.write.ExecContext(tctx, db.write.Rebind(`UPDATE webhook_endpoints
		SET enabled = ?, disabled_reason = ?, updated_at = ? WHERE account_id = ? AND id = ?`),
		false, reason, db.d.timeArg(now), accountID, id)
	if err != nil {
		return fmt.Errorf("store: disable webhook %s: %w", id, translate(ctx, err))
	}
	return nil
}

// Webhook returns the account's endpoint id, or an error matching
// resources.ErrNotFound.
func (db *DB) Webhook(ctx context.Context, accountID, id string) (resources.WebhookEndpoint, error) {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	if !resources.ValidID(id) {
		return resources.WebhookEndpoint{}, webhookNotFound(fmt.Errorf("%q is no id", id))
	}
	var row webhookRow
	err := db.write.GetContext(tctx, &row, db.write.Rebind(selectWebhooks(db.d)+` WHERE account_id = ? AND id = ?`), accountID, id)
	if errors.Is(err, sql.ErrNoRows) {
		err = webhookNotFound(err)
	}
	if err != nil {
		return resources.WebhookEndpoint{}, fmt.Errorf("store: webhook %s: %w", id, translate(ctx, err))
	}
	return row.endpoint(), nil
}

// Webhooks returns the account's endpoints, oldest first.
func (db *DB) Webhooks(ctx context.Context, accountID string) ([]resources.WebhookEndpoint, error) {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	ws, err := webhooks(tctx, db.write, db.d, accountID, false)
	if err != nil {
		return nil, fmt.Errorf("store: webhooks of %q: %w", accountID, translate(ctx, err))
	}
	return ws, nil
}

func webhooks(ctx context.Context, q sqlx.QueryerContext, d dialect, accountID string, enabledOnly bool) ([]resources.WebhookEndpoint, error) {
	query := selectWebhooks(d) + ` WHERE account_id = ?`
	if enabledOnly {
		query += ` AND enabled`
		if d.name() == SQLite {
			query += ` = 1`
		}
	}
	var rows []webhookRow
	if err := sqlx.SelectContext(ctx, q, &rows, sqlx.Rebind(bindOf(d), query+` ORDER BY created_at, id`), accountID); err != nil {
		return nil, err
	}
	ws := make([]resources.WebhookEndpoint, len(rows))
	for i, row := range rows {
		ws[i] = row.endpoint()
	}
	return ws, nil
}

func bindOf(d dialect) int {
	if d.name() == Postgres {
		return sqlx.DOLLAR
	}
	return sqlx.QUESTION
}

// DeleteWebhook deletes the account's endpoint id and its deliveries. It
// returns an error matching resources.ErrNotFound when there is none.
func (db *DB) DeleteWebhook(ctx context.Context, accountID, id string) error {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	if !resources.ValidID(id) {
		return fmt.Errorf("store: delete webhook: %w", webhookNotFound(fmt.Errorf("%q is no id", id)))
	}
	res, err := db.write.ExecContext(tctx, db.write.Rebind(`DELETE FROM webhook_endpoints WHERE account_id = ? AND id = ?`), accountID, id)
	if err == nil {
		err = oneRow(res, "webhook")
	}
	if err != nil {
		return fmt.Errorf("store: delete webhook %s: %w", id, translate(ctx, err))
	}
	return nil
}

func oneRow(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		return webhookNotFound(errors.New(what + " not found"))
	}
	return err
}

func webhookNotFound(err error) error {
	return &resources.Error{Kind: resources.ErrNotFound, Reason: "webhook not found", Err: err}
}

// OutboxEntry is a delivery written with its event, whose job is still to
// be queued.
type OutboxEntry struct {
	AccountID, DeliveryID, EndpointID string
	// ResourceID is the delivery's resource: "" when its event has none,
	// or when the delivery was deleted with its endpoint.
	ResourceID string
}

// TakeOutbox deletes, in t, at most limit entries of the outbox (every
// process's writes put their deliveries there, appendEvent) and returns
// them, for the caller to queue their jobs in t: the jobs exist if and only
// if t commits, and then the entries are gone. On PostgreSQL entries
// another transaction is taking are skipped, not waited for, and t commits
// without waiting for the write-ahead log to reach the disk: a crash of the
// database that loses the commit loses the jobs and the deletion together,
// so the entries are taken again, and a job that ran meanwhile was fetched
// by a later, synchronous commit, which flushed this one first.
func (t Tx) TakeOutbox(ctx context.Context, limit int) ([]OutboxEntry, error) {
	var rows []struct {
		AccountID  string         `db:"account_id"`
		DeliveryID string         `db:"delivery_id"`
		EndpointID string         `db:"endpoint_id"`
		ResourceID sql.NullString `db:"resource_id"`
	}
	const returning = `RETURNING account_id, delivery_id, endpoint_id, (SELECT d.resource_id FROM webhook_deliveries d
		WHERE d.account_id = webhook_outbox.account_id AND d.id = webhook_outbox.delivery_id) AS resource_id`
	query := `DELETE FROM webhook_outbox WHERE rowid IN (SELECT rowid FROM webhook_outbox LIMIT ?) ` + returning
	if t.db.d.name() == Postgres {
		query = `WITH lazy AS (SELECT set_config('synchronous_commit', 'off', true))
			DELETE FROM webhook_outbox WHERE (account_id, delivery_id) IN (
				SELECT account_id, delivery_id FROM webhook_outbox, lazy LIMIT $1 FOR UPDATE SKIP LOCKED) ` + returning
	}
	if err := t.tx.SelectContext(ctx, &rows, query, limit); err != nil {
		return nil, fmt.Errorf("store: take the webhook outbox: %w", translate(ctx, err))
	}
	out := make([]OutboxEntry, len(rows))
	for i, r := range rows {
		out[i] = OutboxEntry{AccountID: r.AccountID, DeliveryID: r.DeliveryID, EndpointID: r.EndpointID, ResourceID: r.ResourceID.String}
	}
	return out, nil
}

// RetryDelivery sets the account's delivery id pending again, in t, and
// returns it. It returns an error matching resources.ErrNotFound when the
// endpoint has no such delivery.
func (t Tx) RetryDelivery(ctx context.Context, accountID, endpointID, id string, now time.Time) (resources.WebhookDelivery, error) {
	if !resources.ValidID(id) {
		return resources.WebhookDelivery{}, deliveryNotFound(fmt.Errorf("%q is no id", id))
	}
	res, err := t.tx.ExecContext(ctx, t.tx.Rebind(`UPDATE webhook_deliveries SET state = ?, updated_at = ?
		WHERE account_id = ? AND endpoint_id = ? AND id = ?`), resources.DeliveryPending, t.db.d.timeArg(now),
		accountID, endpointID, id)
	if err != nil {
		return resources.WebhookDelivery{}, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return resources.WebhookDelivery{}, errors.Join(err, deliveryNotFound(errors.New("no such delivery")))
	}
	ds, err := deliveries(ctx, t.tx, t.db.d, accountID, endpointID, ` AND id = ?`, id)
	if err != nil || len(ds) == 0 {
		return resources.WebhookDelivery{}, errors.Join(err, deliveryNotFound(errors.New("no such delivery")))
	}
	return ds[0], nil
}

func deliveryNotFound(err error) error {
	return &resources.Error{Kind: resources.ErrNotFound, Reason: "delivery not found", Err: err}
}

type deliveryRow struct {
	ID         string         `db:"id"`
	EndpointID string         `db:"endpoint_id"`
	Sequence   int64          `db:"sequence"`
	ResourceID sql.NullString `db:"resource_id"`
	State      string         `db:"state"`
	CreatedAt  timestamp      `db:"created_at"`
	UpdatedAt  timestamp      `db:"updated_at"`
}

type attemptRow struct {
	DeliveryID string         `db:"delivery_id"`
	Attempt    int            `db:"attempt"`
	Status     sql.NullInt64  `db:"status"`
	LatencyMS  int64          `db:"latency_ms"`
	Error      sql.NullString `db:"error"`
	CreatedAt  timestamp      `db:"created_at"`
}

// Deliveries returns the endpoint's latest deliveries, newest first, at
// most limit, each with its attempts.
func (db *DB) Deliveries(ctx context.Context, accountID, endpointID string, limit int) ([]resources.WebhookDelivery, error) {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	ds, err := deliveries(tctx, db.write, db.d, accountID, endpointID, ` ORDER BY sequence DESC LIMIT `+fmt.Sprint(limit))
	if err != nil {
		return nil, fmt.Errorf("store: deliveries of webhook %s: %w", endpointID, translate(ctx, err))
	}
	return ds, nil
}

func deliveries(ctx context.Context, q sqlx.QueryerContext, d dialect, accountID, endpointID, rest string, args ...any) ([]resources.WebhookDelivery, error) {
	var rows []deliveryRow
	err := sqlx.SelectContext(ctx, q, &rows, sqlx.Rebind(bindOf(d), `SELECT id, endpoint_id, sequence, resource_id, state, `+
		d.unixMicros("created_at")+` AS created_at, `+d.unixMicros("updated_at")+` AS updated_at
		FROM webhook_deliveries WHERE account_id = ? AND endpoint_id = ?`+rest), append([]any{accountID, endpointID}, args...)...)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	var attempts []attemptRow
	err = sqlx.SelectContext(ctx, q, &attempts, sqlx.Rebind(bindOf(d), `SELECT a.delivery_id, a.attempt, a.status, a.latency_ms, a.error, `+
		d.unixMicros("a.created_at")+` AS created_at
		FROM webhook_attempts a JOIN webhook_deliveries w ON w.account_id = a.account_id AND w.id = a.delivery_id
		WHERE w.account_id = ? AND w.endpoint_id = ? AND w.sequence BETWEEN ? AND ?
		ORDER BY a.attempt`), accountID, endpointID, rows[len(rows)-1].Sequence, rows[0].Sequence)
	if err != nil {
		return nil, err
	}
	byID := map[string]int{}
	ds := make([]resources.WebhookDelivery, len(rows))
	for i, r := range rows {
		byID[r.ID] = i
		ds[i] = resources.WebhookDelivery{ID: r.ID, AccountID: accountID, EndpointID: r.EndpointID, Sequence: r.Sequence,
			ResourceID: r.ResourceID.String, State: r.State, CreatedAt: r.CreatedAt.t, UpdatedAt: r.UpdatedAt.t,
			Attempts: []resources.WebhookAttempt{}}
	}
	for _, a := range attempts {
		if i, ok := byID[a.DeliveryID]; ok {
			ds[i].Attempts = append(ds[i].Attempts, resources.WebhookAttempt{Attempt: a.Attempt, Status: int(a.Status.Int64),
				Latency: time.Duration(a.LatencyMS) * time.Millisecond, Error: a.Error.String, At: a.CreatedAt.t})
		}
	}
	return ds, nil
}

// Delivery returns the account's delivery id with its attempts.
func (db *DB) Delivery(ctx context.Context, accountID, endpointID, id string) (resources.WebhookDelivery, error) {
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	ds, err := deliveries(tctx, db.write, db.d, accountID, endpointID, ` AND id = ?`, id)
	if err == nil && len(ds) == 0 {
		err = deliveryNotFound(errors.New("no such delivery"))
	}
	if err != nil {
		return resources.WebhookDelivery{}, fmt.Errorf("store: delivery %s: %w", id, translate(ctx, err))
	}
	return ds[0], nil
}

// Attempt is an attempt at a delivery and the delivery's state after it.
type Attempt struct {
	Delivery resources.WebhookDelivery
	resources.WebhookAttempt
	State string
}

// RecordAttempts stores the attempts at the account's deliveries and sets
// their states, in one transaction. Each attempt's number is its
// delivery's count of attempts, which it bumps.
//
// On PostgreSQL it is one statement, planned once per connection, that
// commits without waiting for the write-ahead log to reach the disk
// (synchronous_commit off, for this transaction only): the caller, a job,
// ends it with its job queue's own commit, a synchronous one, which
// flushes the log up to there, these records included. A crash of the
// database before that loses both, and the job, still marked running, is
// run again: the same at-least-once as a crash before the records. Waiting
// for the disk here would put one more flush per job in the queue that
// every write's commit waits in.
func (db *DB) RecordAttempts(ctx context.Context, accountID string, as []Attempt) error {
	if len(as) == 0 {
		return nil
	}
	var err error
	if db.d.name() == Postgres {
		err = db.recordAttemptsPostgres(ctx, accountID, as)
	} else {
		err = db.inTx(ctx, func(tctx context.Context, tx *sqlx.Tx) error {
			for _, a := range as {
				var n int
				if err := tx.GetContext(tctx, &n, `UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1, updated_at = ?
					WHERE account_id = ? AND id = ? RETURNING attempts`, a.State, db.d.timeArg(a.At), accountID, a.Delivery.ID); err != nil {
					return err
				}
				if _, err := tx.ExecContext(tctx, `INSERT INTO webhook_attempts
					(account_id, delivery_id, attempt, status, latency_ms, error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
					accountID, a.Delivery.ID, n, sql.NullInt64{Int64: int64(a.Status), Valid: a.Status != 0},
					a.Latency.Milliseconds(), sql.NullString{String: a.Error, Valid: a.Error != ""}, db.d.timeArg(a.At)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("store: record %d attempts of account %s: %w", len(as), accountID, translate(ctx, err))
	}
	return nil
}

// recordAttemptsPostgres is RecordAttempts in one statement: the attempts
// go as arrays, one per column, that unnest turns back into rows. A status
// of 0 (no answer) and an empty error are stored as NULL.
func (db *DB) recordAttemptsPostgres(ctx context.Context, accountID string, as []Attempt) error {
	n := len(as)
	ids, states, ats, errs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	statuses, latencies := make([]int64, n), make([]int64, n)
	for i, a := range as {
		ids[i], states[i], errs[i] = a.Delivery.ID, a.State, a.Error
		ats[i] = a.At.UTC().Format(time.RFC3339Nano)
		statuses[i], latencies[i] = int64(a.Status), a.Latency.Milliseconds()
	}
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	// set_config(…, true) is the statement's own transaction's SET LOCAL.
	rows, err := db.writeStmts.queryx(tctx, `WITH lazy AS (SELECT set_config('synchronous_commit', 'off', true)),
		input AS (SELECT * FROM unnest($2::uuid[], $3::text[], $4::timestamptz[], $5::int[], $6::bigint[], $7::text[])
			AS i (id, state, at, status, latency_ms, error)),
		bumped AS (
			UPDATE webhook_deliveries d SET state = i.state, attempts = d.attempts + 1, updated_at = i.at
			FROM input i WHERE d.account_id = $1 AND d.id = i.id RETURNING d.id, d.attempts)
		INSERT INTO webhook_attempts (account_id, delivery_id, attempt, status, latency_ms, error, created_at)
		SELECT $1, b.id, b.attempts, NULLIF(i.status, 0), i.latency_ms, NULLIF(i.error, ''), i.at
		FROM bumped b JOIN input i ON i.id = b.id CROSS JOIN lazy`,
		accountID, pq.Array(ids), pq.Array(states), pq.Array(ats), pq.Array(statuses), pq.Array(latencies), pq.Array(errs))
	if err != nil {
		return err
	}
	return rows.Close()
}

// DeliveryToSend is what an attempt at a delivery needs, read at once.
type DeliveryToSend struct {
	Delivery resources.WebhookDelivery // without its attempts
	Endpoint resources.WebhookEndpoint
	// Event is the delivery's event, unless EventHeld is false: it has
	// been pruned.
	Event     resources.Event
	EventHeld bool
	// Earlier tells that the endpoint has a pending delivery of the same
	// resource with a smaller sequence: this one must wait for it.
	Earlier bool
}

type deliveryToSendRow struct {
	webhookRow
	DeliveryID string         `db:"d_id"`
	Sequence   int64          `db:"d_sequence"`
	ResourceID sql.NullString `db:"d_resource_id"`
	State      string         `db:"d_state"`
	EventID    sql.NullString `db:"e_id"`
	EventType  sql.NullString `db:"e_type"`
	EventAt    *timestamp     `db:"e_created_at"`
	EventData  sql.NullString `db:"e_data"`
	Earlier    bool           `db:"earlier"`
}

// DeliveriesToSend reads those of the account's deliveries ids that are
// pending, each with its endpoint and its event, in sequence order, in one
// query planned once per connection: a delivery job runs it before each
// attempt at its deliveries. A delivery deleted with its endpoint, or no
// longer pending, is left out.
func (db *DB) DeliveriesToSend(ctx context.Context, accountID string, ids []string) ([]DeliveryToSend, error) {
	ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !resources.ValidID(id) })
	if len(ids) == 0 {
		return nil, nil
	}
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	d := db.d
	in, arg := `d.id IN (SELECT value FROM json_each(?))`, any(nil)
	if d.name() == Postgres {
		in, arg = `d.id = ANY(?::uuid[])`, pq.Array(ids)
	} else {
		list, err := json.Marshal(ids)
		if err != nil {
			return nil, err
		}
		arg = string(list)
	}
	// The pending state is written into the text, not bound: a plan kept
	// for any state could not use the index of pending deliveries.
	rows, err := db.writeStmts.queryx(tctx, db.write.Rebind(`SELECT w.id, w.account_id, w.url, w.description, w.types, w.tags,
		w.directory_prefix, w.secret, w.previous_secret, `+d.unixMicros("w.previous_expires_at")+` AS previous_expires_at,
		w.enabled, w.disabled_reason, `+d.unixMicros("w.created_at")+` AS created_at, `+d.unixMicros("w.updated_at")+` AS updated_at,
		d.id AS d_id, d.sequence AS d_sequence, d.resource_id AS d_resource_id, d.state AS d_state,
		e.id AS e_id, e.type AS e_type, `+d.unixMicros("e.created_at")+` AS e_created_at, e.data AS e_data,
		EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.account_id = d.account_id AND p.endpoint_id = d.endpoint_id
			AND p.resource_id = d.resource_id AND p.sequence < d.sequence AND p.state = '`+resources.DeliveryPending+`') AS earlier
		FROM webhook_deliveries d
		JOIN webhook_endpoints w ON w.account_id = d.account_id AND w.id = d.endpoint_id
		LEFT JOIN events e ON e.account_id = d.account_id AND e.sequence = d.sequence
		WHERE d.account_id = ? AND `+in+` AND d.state = '`+resources.DeliveryPending+`'
		ORDER BY d.sequence`), accountID, arg)
	if err != nil {
		return nil, fmt.Errorf("store: %d deliveries to send: %w", len(ids), translate(ctx, err))
	}
	defer rows.Close()
	var out []DeliveryToSend
	for rows.Next() {
		var row deliveryToSendRow
		if err := rows.StructScan(&row); err != nil {
			return nil, fmt.Errorf("store: deliveries to send: %w", err)
		}
		out = append(out, row.toSend(accountID))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: deliveries to send: %w", translate(ctx, err))
	}
	return out, nil
}

func (row deliveryToSendRow) toSend(accountID string) DeliveryToSend {
	out := DeliveryToSend{
		Delivery: resources.WebhookDelivery{ID: row.DeliveryID, AccountID: accountID, EndpointID: row.webhookRow.ID,
			Sequence: row.Sequence, ResourceID: row.ResourceID.String, State: row.State},
		Endpoint:  row.endpoint(),
		EventHeld: row.EventID.Valid,
		Earlier:   row.Earlier,
	}
	if out.EventHeld {
		out.Event = resources.Event{ID: row.EventID.String, AccountID: accountID, Sequence: row.Sequence,
			Type: row.EventType.String, ResourceID: row.ResourceID.String, Data: []byte(row.EventData.String)}
		if row.EventAt != nil {
			out.Event.Timestamp = row.EventAt.t
		}
	}
	return out
}
