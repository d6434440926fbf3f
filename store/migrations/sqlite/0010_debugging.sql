-- +goose Up
-- What an attempt sent and got back, for the integrator debugging it: the
-- request's headers (secrets masked) and the response's headers, each a
-- JSON object of name to value. NULL for attempts made before.
ALTER TABLE delivery_attempts ADD COLUMN request_headers TEXT;
ALTER TABLE delivery_attempts ADD COLUMN response_headers TEXT;
-- When a webhook was last paused, and when a paused webhook's automatic
-- pause was acknowledged on the dashboard (NULL: not yet).
ALTER TABLE webhooks ADD COLUMN paused_at DATETIME;
ALTER TABLE webhooks ADD COLUMN pause_acknowledged_at DATETIME;
