-- Links (issue 19): a download link hands one resource's bytes to whoever
-- holds its token; an upload link lets its holder create resources in one
-- folder. Only the SHA-256 of a token is kept: a copy of the database
-- yields no working link. A link is looked up by that hash alone, without
-- an account (its holder has none), so token_hash is the one unique key
-- that does not lead with account_id.
--
-- The counts are exact under concurrency: a use is taken by one
-- conditional UPDATE (count < max, not expired), never by reading and then
-- writing. Revoking deletes the row; so does deleting the resource.

CREATE TABLE download_links (
    account_id    text COLLATE "C" NOT NULL,
    id            uuid NOT NULL,
    resource_id   uuid NOT NULL,
    token_hash    bytea NOT NULL,
    disposition   text NOT NULL,
    max_downloads bigint,
    downloads     bigint NOT NULL DEFAULT 0,
    created_by    text,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    CONSTRAINT download_links_pkey PRIMARY KEY (account_id, id),
    CONSTRAINT download_links_token_key UNIQUE (token_hash),
    CONSTRAINT download_links_resource_fkey FOREIGN KEY (account_id, resource_id)
        REFERENCES resources (account_id, id) ON DELETE CASCADE,
    CONSTRAINT download_links_token_hash_check CHECK (length(token_hash) = 32),
    CONSTRAINT download_links_disposition_check CHECK (disposition IN ('attachment', 'inline')),
    CONSTRAINT download_links_downloads_check
        CHECK (downloads >= 0 AND (max_downloads IS NULL OR downloads <= max_downloads))
);

-- A resource's links, newest first; also the foreign key's side of a delete.
CREATE INDEX download_links_resource_idx ON download_links (account_id, resource_id, created_at);

CREATE TABLE upload_links (
    account_id           text COLLATE "C" NOT NULL,
    id                   uuid NOT NULL,
    token_hash           bytea NOT NULL,
    directory_path       text COLLATE "C" NOT NULL,
    allow_subdirectories boolean NOT NULL,
    max_bytes            bigint NOT NULL,
    mime_types           jsonb NOT NULL,
    max_uploads          bigint,
    uploads              bigint NOT NULL DEFAULT 0,
    tags                 jsonb NOT NULL,
    created_by           text,
    created_at           timestamptz NOT NULL,
    expires_at           timestamptz NOT NULL,
    CONSTRAINT upload_links_pkey PRIMARY KEY (account_id, id),
    CONSTRAINT upload_links_token_key UNIQUE (token_hash),
    CONSTRAINT upload_links_token_hash_check CHECK (length(token_hash) = 32),
    CONSTRAINT upload_links_max_bytes_check CHECK (max_bytes > 0),
    CONSTRAINT upload_links_lists_check CHECK (jsonb_typeof(mime_types) = 'array' AND jsonb_typeof(tags) = 'array'),
    CONSTRAINT upload_links_uploads_check
        CHECK (uploads >= 0 AND (max_uploads IS NULL OR uploads <= max_uploads))
);

-- An account's upload links, newest first.
CREATE INDEX upload_links_created_idx ON upload_links (account_id, created_at);
