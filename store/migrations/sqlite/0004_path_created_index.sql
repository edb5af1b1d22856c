-- The directory_prefix filter's page; see the PostgreSQL migration of the
-- same number. SQLite has no INCLUDE: the order columns are trailing keys.
CREATE INDEX resources_path_created_idx ON resources (account_id, directory_path, created_at, id);
