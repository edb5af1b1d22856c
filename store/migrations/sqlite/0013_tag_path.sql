-- A page of tags under a directory prefix; see the PostgreSQL migration of
-- the same number. The key is the path's first 256 characters, as there,
-- so that both engines test a prefix the same way.
ALTER TABLE resource_tags ADD COLUMN path_key TEXT;

UPDATE resource_tags SET path_key = (SELECT substr(r.directory_path, 1, 256) FROM resources r
    WHERE r.account_id = resource_tags.account_id AND r.id = resource_tags.resource_id);

DROP TRIGGER resource_tags_created_at;
CREATE TRIGGER resource_tags_created_at AFTER INSERT ON resource_tags
WHEN NEW.created_at IS NULL OR NEW.path_key IS NULL BEGIN
    UPDATE resource_tags SET (created_at, path_key) = (SELECT r.created_at, substr(r.directory_path, 1, 256)
        FROM resources r WHERE r.account_id = NEW.account_id AND r.id = NEW.resource_id)
    WHERE account_id = NEW.account_id AND resource_id = NEW.resource_id AND tag = NEW.tag;
END;

CREATE TRIGGER resources_move_tags AFTER UPDATE OF directory_path ON resources
WHEN substr(OLD.directory_path, 1, 256) IS NOT substr(NEW.directory_path, 1, 256) BEGIN
    UPDATE resource_tags SET path_key = substr(NEW.directory_path, 1, 256)
    WHERE account_id = NEW.account_id AND resource_id = NEW.id;
END;

CREATE INDEX resource_tags_path_idx ON resource_tags (account_id, tag, path_key, created_at, resource_id);
