-- The change feed; see the PostgreSQL migration of the same number. SQLite
-- has one writer at a time, so the counter row needs no lock of its own.
CREATE TABLE event_counters (
    account_id    TEXT NOT NULL PRIMARY KEY,
    last_sequence INTEGER NOT NULL
) STRICT;

CREATE TABLE events (
    account_id  TEXT NOT NULL,
    sequence    INTEGER NOT NULL CHECK (sequence > 0),
    id          TEXT NOT NULL,
    type        TEXT NOT NULL,
    resource_id TEXT,
    created_at  INTEGER NOT NULL,
    data        TEXT NOT NULL CHECK (json_type(data) = 'object'),
    PRIMARY KEY (account_id, sequence)
) STRICT;

CREATE INDEX events_created_idx ON events (created_at);

-- Webhooks; see the PostgreSQL migration of the same number.
CREATE TABLE webhook_endpoints (
    account_id          TEXT NOT NULL,
    id                  TEXT NOT NULL,
    url                 TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    types               TEXT NOT NULL CHECK (json_type(types) = 'array'),
    tags                TEXT NOT NULL CHECK (json_type(tags) = 'array'),
    directory_prefix    TEXT NOT NULL DEFAULT '',
    secret              TEXT NOT NULL,
    previous_secret     TEXT,
    previous_expires_at INTEGER,
    enabled             INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    disabled_reason     TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    PRIMARY KEY (account_id, id)
) STRICT;

CREATE TABLE webhook_deliveries (
    account_id    TEXT NOT NULL,
    id            TEXT NOT NULL,
    endpoint_id   TEXT NOT NULL,
    sequence      INTEGER NOT NULL,
    resource_id   TEXT,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (account_id, id),
    FOREIGN KEY (account_id, endpoint_id) REFERENCES webhook_endpoints (account_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (account_id, endpoint_id, sequence);
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (account_id, endpoint_id, resource_id, sequence)
    WHERE state = 'pending';

CREATE TABLE webhook_attempts (
    account_id   TEXT NOT NULL,
    delivery_id  TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    status       INTEGER,
    latency_ms   INTEGER NOT NULL,
    error        TEXT,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (account_id, delivery_id, attempt),
    FOREIGN KEY (account_id, delivery_id) REFERENCES webhook_deliveries (account_id, id) ON DELETE CASCADE
) STRICT;
