-- A generation per account that every write to its resources or their tags
-- changes; see the PostgreSQL migration of the same number. Nothing here
-- empties account_counts, so counting up per account never gives a value
-- twice. Row triggers, as for the counts (0002).
ALTER TABLE account_counts ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;

DROP TRIGGER account_counts_insert;
CREATE TRIGGER account_counts_insert AFTER INSERT ON resources BEGIN
    INSERT INTO account_counts (account_id, resources) VALUES (NEW.account_id, 1)
    ON CONFLICT (account_id) DO UPDATE SET resources = resources + 1, generation = generation + 1;
END;

DROP TRIGGER account_counts_delete;
CREATE TRIGGER account_counts_delete AFTER DELETE ON resources BEGIN
    UPDATE account_counts SET resources = resources - 1, generation = generation + 1
    WHERE account_id = OLD.account_id;
END;

-- Any update changes the generation (a new path changes which prefixes
-- match); the move between accounts (0002) also moves the count.
CREATE TRIGGER account_generation_update AFTER UPDATE ON resources BEGIN
    UPDATE account_counts SET generation = generation + 1
    WHERE account_id IN (OLD.account_id, NEW.account_id);
END;

CREATE TRIGGER account_generation_tag_insert AFTER INSERT ON resource_tags BEGIN
    UPDATE account_counts SET generation = generation + 1 WHERE account_id = NEW.account_id;
END;

CREATE TRIGGER account_generation_tag_delete AFTER DELETE ON resource_tags BEGIN
    UPDATE account_counts SET generation = generation + 1 WHERE account_id = OLD.account_id;
END;

CREATE TRIGGER account_generation_tag_update AFTER UPDATE ON resource_tags BEGIN
    UPDATE account_counts SET generation = generation + 1
    WHERE account_id IN (OLD.account_id, NEW.account_id);
END;
