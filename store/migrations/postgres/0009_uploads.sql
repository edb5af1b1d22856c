-- Resumable uploads (tus, issue 18): an upload on its way to becoming a
-- resource. Its id is the id of the resource it becomes, so the upload's
-- URL names the resource. Every replica reads and writes the same row: the
-- offset, the state of the bytes and of their SHA-256 (state, opaque here),
-- and the lease that lets one request at a time write (lease_holder until
-- lease_expires; a waiting request sets lease_wanted so the holder lets go).
-- A lease is a row, not a session's advisory lock, so it holds through
-- PgBouncer in transaction mode and outlives no crashed holder beyond
-- lease_expires. fields holds the resource's fields as given, in normal form,
-- as text so that metadata keeps its keys' order.
CREATE TABLE uploads (
    account_id    text COLLATE "C" NOT NULL,
    id            uuid NOT NULL,
    fields        text NOT NULL,
    link_id       uuid,
    created_by    text,
    length        bigint,
    "offset"      bigint NOT NULL DEFAULT 0,
    state         bytea NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    completed_at  timestamptz,
    lease_holder  text,
    lease_expires timestamptz,
    lease_wanted  boolean NOT NULL DEFAULT false,
    CONSTRAINT uploads_pkey PRIMARY KEY (account_id, id),
    CONSTRAINT uploads_offset_check CHECK ("offset" >= 0 AND (length IS NULL OR "offset" <= length))
);

-- What gc looks for: uploads past their expiry.
CREATE INDEX uploads_expires_idx ON uploads (expires_at);
