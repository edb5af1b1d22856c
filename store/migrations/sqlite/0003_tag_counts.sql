-- The exact total of a one-tag filter in one probe; see the PostgreSQL
-- migration of the same number. Row triggers, as for account_counts.
CREATE TABLE account_tag_counts (
    account_id TEXT NOT NULL,
    tag        TEXT NOT NULL,
    resources  INTEGER NOT NULL,
    PRIMARY KEY (account_id, tag)
) STRICT, WITHOUT ROWID;

INSERT INTO account_tag_counts (account_id, tag, resources)
SELECT account_id, tag, count(*) FROM resource_tags GROUP BY account_id, tag;

CREATE TRIGGER account_tag_counts_insert AFTER INSERT ON resource_tags BEGIN
    INSERT INTO account_tag_counts (account_id, tag, resources) VALUES (NEW.account_id, NEW.tag, 1)
    ON CONFLICT (account_id, tag) DO UPDATE SET resources = resources + 1;
END;

CREATE TRIGGER account_tag_counts_delete AFTER DELETE ON resource_tags BEGIN
    UPDATE account_tag_counts SET resources = resources - 1
    WHERE account_id = OLD.account_id AND tag = OLD.tag;
END;

CREATE TRIGGER account_tag_counts_update AFTER UPDATE ON resource_tags BEGIN
    UPDATE account_tag_counts SET resources = resources - 1
    WHERE account_id = OLD.account_id AND tag = OLD.tag;
    INSERT INTO account_tag_counts (account_id, tag, resources) VALUES (NEW.account_id, NEW.tag, 1)
    ON CONFLICT (account_id, tag) DO UPDATE SET resources = resources + 1;
END;
