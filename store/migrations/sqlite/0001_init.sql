-- Resources and their tags; see the PostgreSQL migration of the same number.
-- Timestamps are INTEGER Unix microseconds, so ordering and comparisons are
-- exact. Text compares with SQLite's default BINARY collation: byte order.

CREATE TABLE resources (
    account_id            TEXT NOT NULL,
    id                    TEXT NOT NULL,
    name                  TEXT NOT NULL,
    directory_path        TEXT NOT NULL,
    mime_type             TEXT NOT NULL,
    sha256                TEXT NOT NULL,
    original_uri          TEXT,
    external_id           TEXT,
    external_storage_type TEXT CHECK (external_storage_type IN ('s3', 'gcs', 'azure_blob')),
    storage_bucket        TEXT NOT NULL,
    storage_key           TEXT NOT NULL,
    size_bytes            INTEGER NOT NULL CHECK (size_bytes >= 0),
    metadata              TEXT CHECK (json_type(metadata) = 'object'), -- compact JSON
    created_by            TEXT,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    PRIMARY KEY (account_id, id),
    -- Also serves the directory_prefix filter as a range scan.
    UNIQUE (account_id, directory_path, name)
) STRICT;

-- The list's order and pagination, in either direction.
CREATE INDEX resources_created_idx ON resources (account_id, created_at, id);

-- Small rows: clustered on the primary key, which also gives a resource's
-- tags in order.
CREATE TABLE resource_tags (
    account_id  TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    tag         TEXT NOT NULL,
    PRIMARY KEY (account_id, resource_id, tag),
    FOREIGN KEY (account_id, resource_id) REFERENCES resources (account_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- The tags filter: the resources of an account carrying a tag.
CREATE INDEX resource_tags_tag_idx ON resource_tags (account_id, tag, resource_id);
