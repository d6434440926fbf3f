-- +goose Up
-- A webhook's throttle (NULL: off): deliveries started per second and
-- under way at once, across every worker.
ALTER TABLE webhooks ADD COLUMN max_per_second REAL;
ALTER TABLE webhooks ADD COLUMN max_in_flight INTEGER;
-- The next free start time of a throttled webhook, in Unix microseconds:
-- each delivery reserves the slot after the last one reserved.
CREATE TABLE webhook_throttle (
    webhook_id TEXT PRIMARY KEY REFERENCES webhooks (id) ON DELETE CASCADE,
    next_at    BIGINT NOT NULL
);
-- Deliveries under way to a webhook with maxInFlight; a lease outlives a
-- worker lost mid-attempt only until it expires.
CREATE TABLE webhook_leases (
    id         TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);
CREATE INDEX webhook_leases_webhook ON webhook_leases (webhook_id, expires_at);
