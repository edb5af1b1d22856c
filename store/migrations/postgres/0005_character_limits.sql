-- Names, paths and tags are limited in characters since the API states its
-- limits as JSON Schema maxLength (issue 13): a 1,024-character path may take
-- 4,096 bytes in UTF-8 and a 255-character name 1,020. A btree entry holds at
-- most 2,704 bytes (a third of a page), so the two indexes that held whole
-- paths would refuse such a row with an error. Both now hold bounded keys.
-- (Tags of 64 characters take at most 256 bytes and fit as they are; SQLite
-- has no such limit.)

-- The path's first 256 characters (at most 1,024 bytes): the key the
-- directory_prefix filter ranges over. A stored column rather than an
-- expression index, so that the index alone still answers the page's keys
-- (PostgreSQL does no index-only scans on expressions). Longer prefixes are
-- rechecked against the whole path.
ALTER TABLE resources ADD COLUMN path_key text COLLATE "C"
    GENERATED ALWAYS AS (left(directory_path, 256)) STORED;

DROP INDEX resources_path_created_idx;
CREATE INDEX resources_path_created_idx ON resources (account_id, path_key) INCLUDE (created_at, id);

-- Uniqueness of (account_id, directory_path, name) on the MD5 digests of path
-- and name, 32 characters each whatever their length. A collision could only
-- make an account's own create a 409, never expose another account.
ALTER TABLE resources DROP CONSTRAINT resources_path_key;
CREATE UNIQUE INDEX resources_path_key ON resources (account_id, md5(directory_path), md5(name));
