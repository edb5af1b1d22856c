-- Deliveries written with their event but not yet queued as jobs. The
-- event's own statement writes a delivery and its row here (no round trip
-- more, while the account's counter row is locked); each process's
-- dispatcher (webhooks) takes rows in batches, queues their jobs and
-- deletes them in one transaction, so every committed delivery gets its
-- job exactly once and a rolled-back one never has. No foreign key: its
-- check would lock the delivery under the account's lock; a row left by a
-- delivery deleted with its endpoint queues a job that finds nothing.
CREATE TABLE webhook_outbox (
    account_id  text COLLATE "C" NOT NULL,
    delivery_id uuid NOT NULL,
    endpoint_id uuid NOT NULL,
    CONSTRAINT webhook_outbox_pkey PRIMARY KEY (account_id, delivery_id)
);
