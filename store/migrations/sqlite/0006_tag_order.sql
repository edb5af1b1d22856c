-- A tag filter's page in list order; see the PostgreSQL migration of the
-- same number. SQLite's BEFORE triggers cannot change the new row, so an
-- AFTER trigger fills created_at in when the writer did not give it; the
-- column stays nullable for that moment only.
ALTER TABLE resource_tags ADD COLUMN created_at INTEGER;

UPDATE resource_tags SET created_at = (SELECT r.created_at FROM resources r
    WHERE r.account_id = resource_tags.account_id AND r.id = resource_tags.resource_id);

-- Filling created_at in is no change of tag, so the count (0003) follows only
-- updates of the key.
DROP TRIGGER account_tag_counts_update;
CREATE TRIGGER account_tag_counts_update AFTER UPDATE OF account_id, tag ON resource_tags BEGIN
    UPDATE account_tag_counts SET resources = resources - 1
    WHERE account_id = OLD.account_id AND tag = OLD.tag;
    INSERT INTO account_tag_counts (account_id, tag, resources) VALUES (NEW.account_id, NEW.tag, 1)
    ON CONFLICT (account_id, tag) DO UPDATE SET resources = resources + 1;
END;

CREATE TRIGGER resource_tags_created_at AFTER INSERT ON resource_tags
WHEN NEW.created_at IS NULL BEGIN
    UPDATE resource_tags SET created_at = (SELECT r.created_at FROM resources r
        WHERE r.account_id = NEW.account_id AND r.id = NEW.resource_id)
    WHERE account_id = NEW.account_id AND resource_id = NEW.resource_id AND tag = NEW.tag;
END;

DROP INDEX resource_tags_tag_idx;
CREATE INDEX resource_tags_tag_idx ON resource_tags (account_id, tag, created_at, resource_id);
