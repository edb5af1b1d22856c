-- A prefix's page in list order (issue 21). The order index now carries each
-- resource's path key, so a page of a prefix in a window, or of a common
-- prefix, walks the order index in created_at order and tests the path in
-- the index itself: O(page / share of matches) entries, no row read. Before,
-- the planner read the prefix's whole range of resources_path_created_idx
-- (13,000 entries for "/d1" in the benchmark's largest account, growing
-- with the account) and sorted its matches, or walked the order index
-- fetching every row to test its path. A rare prefix still reads its own
-- range of the path index, which is short.
DROP INDEX resources_created_idx;
CREATE INDEX resources_created_idx ON resources (account_id, created_at, id) INCLUDE (path_key);

-- A tag's page with a prefix walks the tag index in list order and tests
-- each entry's path: through the primary key that read a row per entry,
-- and the planner, costing each as a random page, preferred reading the
-- prefix's whole range of the path index and the tag's whole window, and
-- sorting their matches (issue 21: 13,336 and 5,709 entries for a page of
-- 20). This index answers the path without the row.
CREATE INDEX resources_key_path_idx ON resources (account_id, id) INCLUDE (path_key);

ANALYZE resources;
