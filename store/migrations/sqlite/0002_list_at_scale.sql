-- The exact unfiltered total of an account, read in one probe instead of a
-- count; see the PostgreSQL migration of the same number. SQLite has no
-- statement-level triggers, and its single writer makes row triggers cheap.
CREATE TABLE account_counts (
    account_id TEXT NOT NULL PRIMARY KEY,
    resources  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

INSERT INTO account_counts (account_id, resources)
SELECT account_id, count(*) FROM resources GROUP BY account_id;

CREATE TRIGGER account_counts_insert AFTER INSERT ON resources BEGIN
    INSERT INTO account_counts (account_id, resources) VALUES (NEW.account_id, 1)
    ON CONFLICT (account_id) DO UPDATE SET resources = resources + 1;
END;

CREATE TRIGGER account_counts_delete AFTER DELETE ON resources BEGIN
    UPDATE account_counts SET resources = resources - 1 WHERE account_id = OLD.account_id;
END;

CREATE TRIGGER account_counts_update AFTER UPDATE OF account_id ON resources
WHEN OLD.account_id IS NOT NEW.account_id BEGIN
    UPDATE account_counts SET resources = resources - 1 WHERE account_id = OLD.account_id;
    INSERT INTO account_counts (account_id, resources) VALUES (NEW.account_id, 1)
    ON CONFLICT (account_id) DO UPDATE SET resources = resources + 1;
END;
