-- Resumable uploads (tus, issue 18): see the PostgreSQL migration of the
-- same number for what each column holds and why the lease is a row.
CREATE TABLE uploads (
    account_id    TEXT NOT NULL,
    id            TEXT NOT NULL,
    fields        TEXT NOT NULL,
    link_id       TEXT,
    created_by    TEXT,
    length        INTEGER,
    "offset"      INTEGER NOT NULL DEFAULT 0,
    state         BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    completed_at  INTEGER,
    lease_holder  TEXT,
    lease_expires INTEGER,
    lease_wanted  INTEGER NOT NULL DEFAULT 0 CHECK (lease_wanted IN (0, 1)),
    PRIMARY KEY (account_id, id),
    CHECK ("offset" >= 0 AND (length IS NULL OR "offset" <= length))
) STRICT;

CREATE INDEX uploads_expires_idx ON uploads (expires_at);
