-- The change feed (issue 20): one event per committed change of an
-- account's resources, written by the same transaction as the change, so an
-- event exists if and only if its change committed.
--
-- Sequences are per account, strictly increasing and without gaps: each
-- write takes the next number from its account's row of event_counters,
-- whose row lock it holds until it commits or rolls back (a rollback gives
-- the number back). Writers of one account therefore commit in sequence
-- order, and a reader that has seen sequence n will never later find a
-- smaller one appear. The counter is its own table, not account_counts,
-- because nothing may ever reset it (account_counts is emptied by a
-- truncate of resources).
CREATE TABLE event_counters (
    account_id    text COLLATE "C" NOT NULL,
    last_sequence bigint NOT NULL,
    CONSTRAINT event_counters_pkey PRIMARY KEY (account_id)
);

-- data is the event's payload in the API's own form (data.resource, and
-- data.changed for an update); resource_id is kept apart only for ordering
-- deliveries per resource. json, not jsonb: the text is served as written,
-- its keys in the spec's order.
CREATE TABLE events (
    account_id  text COLLATE "C" NOT NULL,
    sequence    bigint NOT NULL,
    id          uuid NOT NULL,
    type        text NOT NULL,
    resource_id uuid,
    created_at  timestamptz NOT NULL,
    data        json NOT NULL,
    CONSTRAINT events_pkey PRIMARY KEY (account_id, sequence),
    CONSTRAINT events_sequence_check CHECK (sequence > 0),
    CONSTRAINT events_data_check CHECK (json_typeof(data) = 'object')
);

-- Pruning by age (EVENTS_RETENTION) across accounts.
CREATE INDEX events_created_idx ON events (created_at);

-- Webhook endpoints: where an account's events are delivered, signed with
-- a Standard Webhooks key (secret, and previous_secret until
-- previous_expires_at after a rotation). An endpoint that keeps failing is
-- disabled, with the reason.
CREATE TABLE webhook_endpoints (
    account_id          text COLLATE "C" NOT NULL,
    id                  uuid NOT NULL,
    url                 text NOT NULL,
    description         text NOT NULL DEFAULT '',
    types               jsonb NOT NULL,
    tags                jsonb NOT NULL,
    directory_prefix    text COLLATE "C" NOT NULL DEFAULT '',
    secret              text NOT NULL,
    previous_secret     text,
    previous_expires_at timestamptz,
    enabled             boolean NOT NULL,
    disabled_reason     text,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (account_id, id),
    CONSTRAINT webhook_endpoints_lists_check CHECK (jsonb_typeof(types) = 'array' AND jsonb_typeof(tags) = 'array')
);

-- One delivery of one event to one endpoint, written in the event's
-- transaction with the durable job that sends it; its attempts beside it.
-- state: pending (to be sent, or being retried), delivered, failed (gave up).
CREATE TABLE webhook_deliveries (
    account_id    text COLLATE "C" NOT NULL,
    id            uuid NOT NULL,
    endpoint_id   uuid NOT NULL,
    sequence      bigint NOT NULL,
    resource_id   uuid,
    state         text NOT NULL,
    attempts      integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (account_id, id),
    CONSTRAINT webhook_deliveries_endpoint_fkey FOREIGN KEY (account_id, endpoint_id)
        REFERENCES webhook_endpoints (account_id, id) ON DELETE CASCADE,
    CONSTRAINT webhook_deliveries_state_check CHECK (state IN ('pending', 'delivered', 'failed'))
);

-- An endpoint's deliveries, newest first; and the per-resource order check:
-- an earlier delivery of the same resource to the same endpoint still
-- pending holds a later one back.
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (account_id, endpoint_id, sequence);
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (account_id, endpoint_id, resource_id, sequence)
    WHERE state = 'pending';

CREATE TABLE webhook_attempts (
    account_id   text COLLATE "C" NOT NULL,
    delivery_id  uuid NOT NULL,
    attempt      integer NOT NULL,
    status       integer,
    latency_ms   bigint NOT NULL,
    error        text,
    created_at   timestamptz NOT NULL,
    CONSTRAINT webhook_attempts_pkey PRIMARY KEY (account_id, delivery_id, attempt),
    CONSTRAINT webhook_attempts_delivery_fkey FOREIGN KEY (account_id, delivery_id)
        REFERENCES webhook_deliveries (account_id, id) ON DELETE CASCADE
);
