-- The directory_prefix filter's page. Without this index the planner walks
-- resources_created_idx and reads each row to test its path: 1,600 buffers
-- for 20 rows of "/d1/d2" in the benchmark's largest account. With it, the
-- prefix is one range of an index-only scan that carries the order columns,
-- and only the matches are sorted (the planner still walks the order index
-- when the prefix matches most of the account, as "/" does).
CREATE INDEX resources_path_created_idx ON resources (account_id, directory_path) INCLUDE (created_at, id);
