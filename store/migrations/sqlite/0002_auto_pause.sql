-- +goose Up
-- When the webhook's current run of failed attempts began; NULL after a
-- success. Auto-pause compares it with the configured window.
ALTER TABLE webhooks ADD COLUMN failing_since DATETIME;
