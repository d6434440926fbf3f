-- +goose Up
-- An event id is the idempotency key within its workspace only: two
-- workspaces may each emit evt_order_1001 and get two events.
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ADD PRIMARY KEY (workspace_id, id);
-- A delivery names its event by (workspace_id, event_id); webhook ids are
-- global, so (event_id, webhook_id) stays unique.
CREATE INDEX deliveries_workspace_event ON deliveries (workspace_id, event_id);
