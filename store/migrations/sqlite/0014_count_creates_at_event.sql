-- Nothing to change on SQLite. PostgreSQL's migration 0014 shortens how
-- long a create holds its account's row of account_counts, for which the
-- account's other creates wait; SQLite runs one write transaction at a
-- time, so every write waits for the one before it whatever it holds. The
-- version is kept so that both engines' schemas have the same history.
SELECT 1;
