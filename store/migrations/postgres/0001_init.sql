-- Resources and their tags. Every table carries account_id and every index
-- leads with it, so the schema can later be distributed by account.
-- Compared, sorted and prefix-matched text is COLLATE "C": byte order is the
-- contract's sort order, and it lets a btree serve prefix matches.

CREATE TABLE resources (
    account_id            text COLLATE "C" NOT NULL,
    id                    uuid NOT NULL,
    name                  text COLLATE "C" NOT NULL,
    directory_path        text COLLATE "C" NOT NULL,
    mime_type             text NOT NULL,
    sha256                text NOT NULL,
    original_uri          text,
    external_id           text,
    external_storage_type text,
    storage_bucket        text NOT NULL,
    storage_key           text NOT NULL,
    size_bytes            bigint NOT NULL,
    metadata              jsonb,
    created_by            text,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    CONSTRAINT resources_pkey PRIMARY KEY (account_id, id),
    -- Also serves the directory_prefix filter as a range scan.
    CONSTRAINT resources_path_key UNIQUE (account_id, directory_path, name),
    CONSTRAINT resources_size_bytes_check CHECK (size_bytes >= 0),
    CONSTRAINT resources_external_storage_type_check
        CHECK (external_storage_type IN ('s3', 'gcs', 'azure_blob')),
    CONSTRAINT resources_metadata_check CHECK (jsonb_typeof(metadata) = 'object')
);

-- The list's order and pagination, in either direction.
CREATE INDEX resources_created_idx ON resources (account_id, created_at, id);

CREATE TABLE resource_tags (
    account_id  text COLLATE "C" NOT NULL,
    resource_id uuid NOT NULL,
    tag         text COLLATE "C" NOT NULL,
    -- Also gives a resource's tags in order.
    CONSTRAINT resource_tags_pkey PRIMARY KEY (account_id, resource_id, tag),
    CONSTRAINT resource_tags_resource_fkey FOREIGN KEY (account_id, resource_id)
        REFERENCES resources (account_id, id) ON DELETE CASCADE
);

-- The tags filter: the resources of an account carrying a tag.
CREATE INDEX resource_tags_tag_idx ON resource_tags (account_id, tag, resource_id);
