-- Deliveries written with their event but not yet queued as jobs (see the
-- PostgreSQL migration): each process's dispatcher queues their jobs and
-- deletes them in one transaction.
CREATE TABLE webhook_outbox (
    account_id  TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    PRIMARY KEY (account_id, delivery_id)
) STRICT;
