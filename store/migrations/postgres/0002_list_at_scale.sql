-- What the list needs to stay fast with accounts of hundreds of thousands of
-- resources (see BENCHMARKS.md for the plans behind each choice).

-- The exact unfiltered total of an account, read in one index probe instead
-- of counting its rows. Statement-level triggers with transition tables keep
-- it right for every write path, COPY included, at one upsert per account
-- touched per statement: the Go write code never needs to know about it.
CREATE TABLE account_counts (
    account_id text COLLATE "C" NOT NULL,
    resources  bigint NOT NULL,
    CONSTRAINT account_counts_pkey PRIMARY KEY (account_id)
);

INSERT INTO account_counts (account_id, resources)
SELECT account_id, count(*) FROM resources GROUP BY account_id;

-- Each function sorts by account_id so that the row locks are always taken
-- in one order: two transactions touching the same accounts cannot deadlock.
CREATE FUNCTION account_counts_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO account_counts AS c (account_id, resources)
    SELECT account_id, count(*) FROM new_rows GROUP BY account_id ORDER BY account_id
    ON CONFLICT (account_id) DO UPDATE SET resources = c.resources + EXCLUDED.resources;
    RETURN NULL;
END $$;

CREATE FUNCTION account_counts_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE account_counts c SET resources = c.resources - d.n
    FROM (SELECT account_id, count(*) AS n FROM old_rows GROUP BY account_id ORDER BY account_id) d
    WHERE c.account_id = d.account_id;
    RETURN NULL;
END $$;

-- No write path moves a resource between accounts today; this keeps the
-- count right if one ever does, and costs an update statement little.
CREATE FUNCTION account_counts_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO account_counts AS c (account_id, resources)
    SELECT account_id, sum(n) FROM (
        SELECT account_id, 1 AS n FROM new_rows
        UNION ALL
        SELECT account_id, -1 FROM old_rows
    ) d GROUP BY account_id HAVING sum(n) <> 0 ORDER BY account_id
    ON CONFLICT (account_id) DO UPDATE SET resources = c.resources + EXCLUDED.resources;
    RETURN NULL;
END $$;

CREATE FUNCTION account_counts_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE account_counts;
    RETURN NULL;
END $$;

CREATE TRIGGER account_counts_insert AFTER INSERT ON resources
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION account_counts_on_insert();
CREATE TRIGGER account_counts_delete AFTER DELETE ON resources
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION account_counts_on_delete();
CREATE TRIGGER account_counts_update AFTER UPDATE ON resources
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION account_counts_on_update();
CREATE TRIGGER account_counts_truncate AFTER TRUNCATE ON resources
    FOR EACH STATEMENT EXECUTE FUNCTION account_counts_on_truncate();
