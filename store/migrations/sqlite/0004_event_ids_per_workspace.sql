-- +goose Up
-- An event id is the idempotency key within its workspace only: two
-- workspaces may each emit evt_order_1001 and get two events. SQLite cannot
-- change a primary key in place, so the table is rebuilt.
CREATE TABLE events_new (
    id           TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    type         TEXT NOT NULL,
    occurred_at  DATETIME NOT NULL,
    received_at  DATETIME NOT NULL,
    payload      TEXT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
INSERT INTO events_new (id, workspace_id, type, occurred_at, received_at, payload)
    SELECT id, workspace_id, type, occurred_at, received_at, payload FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_workspace_received ON events (workspace_id, received_at);
CREATE INDEX events_received ON events (received_at);
CREATE INDEX deliveries_workspace_event ON deliveries (workspace_id, event_id);
