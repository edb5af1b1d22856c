-- A tag filter's page in list order (issue 11). The tag index was keyed
-- (account_id, tag, resource_id), so no tag filter could be read in
-- created_at order: the planner either walked the account's order index and
-- probed resource_tags for every row (fast for a common tag, 45 ms for a
-- rare one at random_page_cost 4), or read all of the tag's rows and sorted
-- them (the reverse), and which one it chose depended on the cluster's cost
-- settings. With each tag row carrying its resource's created_at, a one-tag
-- page is an ordered range of the tag index, and a page of several tags
-- walks one tag's range in order and probes the others: O(page + log n)
-- whatever the settings. The count of several tags is a merge of such
-- ranges, index-only.
ALTER TABLE resource_tags ADD COLUMN created_at timestamptz;

UPDATE resource_tags g SET created_at = r.created_at
FROM resources r WHERE r.account_id = g.account_id AND r.id = g.resource_id;

ALTER TABLE resource_tags ALTER COLUMN created_at SET NOT NULL;

-- A resource's created_at never changes, so the copy is taken once. A
-- writer that knows it may give it and skip the lookup.
CREATE FUNCTION resource_tags_created_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT r.created_at INTO NEW.created_at FROM resources r
    WHERE r.account_id = NEW.account_id AND r.id = NEW.resource_id;
    RETURN NEW;
END $$;

CREATE TRIGGER resource_tags_created_at BEFORE INSERT ON resource_tags
    FOR EACH ROW WHEN (NEW.created_at IS NULL) EXECUTE FUNCTION resource_tags_created_at();

DROP INDEX resource_tags_tag_idx;
CREATE INDEX resource_tags_tag_idx ON resource_tags (account_id, tag, created_at, resource_id);

ANALYZE resource_tags;
