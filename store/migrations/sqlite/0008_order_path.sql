-- A prefix's page in list order; see the PostgreSQL migration of the same
-- number. SQLite has no INCLUDE: the path is a trailing key.
DROP INDEX resources_created_idx;
CREATE INDEX resources_created_idx ON resources (account_id, created_at, id, directory_path);
