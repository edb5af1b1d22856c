-- Links; see the PostgreSQL migration of the same number. Ids are TEXT in
-- lower case, times INTEGER Unix microseconds, lists JSON arrays.

CREATE TABLE download_links (
    account_id    TEXT NOT NULL,
    id            TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    token_hash    BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    disposition   TEXT NOT NULL CHECK (disposition IN ('attachment', 'inline')),
    max_downloads INTEGER,
    downloads     INTEGER NOT NULL DEFAULT 0,
    created_by    TEXT,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    PRIMARY KEY (account_id, id),
    FOREIGN KEY (account_id, resource_id) REFERENCES resources (account_id, id) ON DELETE CASCADE,
    CHECK (downloads >= 0 AND (max_downloads IS NULL OR downloads <= max_downloads))
) STRICT;

CREATE INDEX download_links_resource_idx ON download_links (account_id, resource_id, created_at);

CREATE TABLE upload_links (
    account_id           TEXT NOT NULL,
    id                   TEXT NOT NULL,
    token_hash           BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    directory_path       TEXT NOT NULL,
    allow_subdirectories INTEGER NOT NULL CHECK (allow_subdirectories IN (0, 1)),
    max_bytes            INTEGER NOT NULL CHECK (max_bytes > 0),
    mime_types           TEXT NOT NULL CHECK (json_type(mime_types) = 'array'),
    max_uploads          INTEGER,
    uploads              INTEGER NOT NULL DEFAULT 0,
    tags                 TEXT NOT NULL CHECK (json_type(tags) = 'array'),
    created_by           TEXT,
    created_at           INTEGER NOT NULL,
    expires_at           INTEGER NOT NULL,
    PRIMARY KEY (account_id, id),
    CHECK (uploads >= 0 AND (max_uploads IS NULL OR uploads <= max_uploads))
) STRICT;

CREATE INDEX upload_links_created_idx ON upload_links (account_id, created_at);
