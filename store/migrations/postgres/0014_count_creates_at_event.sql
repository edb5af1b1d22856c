-- An account's creates wait for one another on its row of account_counts:
-- each holds it from where it takes it until its commit has reached the
-- disk. The insert trigger took it at the resource's insert, so the
-- event's statement (migration 0011) and a round trip more ran while every
-- other create of the account waited. A create without tags now leaves its
-- count to its event's statement, which takes the row right before the
-- commit and before the event counter's, the order every writer takes them
-- in (store: appendEventPostgres, CreateResource). The create says so with
-- its transaction's setting refactor.count_at_event; every other writer,
-- SQL run by hand included, is counted here as before. A create with tags
-- gains nothing: its tags' triggers take the row anyway (migration 0007).
CREATE OR REPLACE FUNCTION account_counts_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('refactor.count_at_event', true) = 'on' THEN
        RETURN NULL;
    END IF;
    INSERT INTO account_counts AS c (account_id, resources)
    SELECT account_id, count(*) FROM new_rows GROUP BY account_id ORDER BY account_id
    ON CONFLICT (account_id) DO UPDATE
    SET resources = c.resources + EXCLUDED.resources, generation = EXCLUDED.generation;
    RETURN NULL;
END $$;
