-- A generation per account that every write to its resources or their tags
-- changes, so that an exact total no maintained count answers (several
-- tags, a prefix, a time window) is counted once per change of the account
-- instead of on every page (store/totals.go). Triggers keep it, so it holds
-- for every writer: the API, import's bulk path (which keeps triggers) and
-- SQL run by hand.
--
-- Values come from one sequence rather than counting up per account: the
-- truncate trigger (0002) empties account_counts, and an account's count
-- restarting at 1 could meet a generation a reader has cached. A sequence
-- never gives a value twice, committed or not.
CREATE SEQUENCE account_generation;

ALTER TABLE account_counts ADD COLUMN generation bigint NOT NULL DEFAULT nextval('account_generation');

-- The same functions as 0002, each now also taking a new generation for
-- every account it touches. Locks are still taken in account_id order.
CREATE OR REPLACE FUNCTION account_counts_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO account_counts AS c (account_id, resources)
    SELECT account_id, count(*) FROM new_rows GROUP BY account_id ORDER BY account_id
    ON CONFLICT (account_id) DO UPDATE
    SET resources = c.resources + EXCLUDED.resources, generation = EXCLUDED.generation;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION account_counts_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE account_counts c SET resources = c.resources - d.n, generation = nextval('account_generation')
    FROM (SELECT account_id, count(*) AS n FROM old_rows GROUP BY account_id ORDER BY account_id) d
    WHERE c.account_id = d.account_id;
    RETURN NULL;
END $$;

-- Any update changes the generation, whether or not it moves a resource
-- between accounts: a new path changes which prefixes match.
CREATE OR REPLACE FUNCTION account_counts_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO account_counts AS c (account_id, resources)
    SELECT account_id, sum(n) FROM (
        SELECT account_id, 1 AS n FROM new_rows
        UNION ALL
        SELECT account_id, -1 FROM old_rows
    ) d GROUP BY account_id ORDER BY account_id
    ON CONFLICT (account_id) DO UPDATE
    SET resources = c.resources + EXCLUDED.resources, generation = EXCLUDED.generation;
    RETURN NULL;
END $$;

-- Tag rows change the generation of their accounts. The triggers' names
-- sort before account_tag_counts_*, so they fire first and every writer
-- locks the account's row before its tags' rows, as creating a resource does.
CREATE FUNCTION account_generation_on_tags() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO account_counts AS c (account_id, resources)
        SELECT DISTINCT account_id, 0 FROM new_rows ORDER BY account_id
        ON CONFLICT (account_id) DO UPDATE SET generation = EXCLUDED.generation;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO account_counts AS c (account_id, resources)
        SELECT DISTINCT account_id, 0 FROM old_rows ORDER BY account_id
        ON CONFLICT (account_id) DO UPDATE SET generation = EXCLUDED.generation;
    ELSE
        INSERT INTO account_counts AS c (account_id, resources)
        SELECT account_id, 0 FROM (SELECT account_id FROM new_rows UNION SELECT account_id FROM old_rows) d
        ORDER BY account_id
        ON CONFLICT (account_id) DO UPDATE SET generation = EXCLUDED.generation;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER account_generation_insert AFTER INSERT ON resource_tags
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION account_generation_on_tags();
CREATE TRIGGER account_generation_delete AFTER DELETE ON resource_tags
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION account_generation_on_tags();
CREATE TRIGGER account_generation_update AFTER UPDATE ON resource_tags
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION account_generation_on_tags();
