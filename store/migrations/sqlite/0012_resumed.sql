-- +goose Up
-- When a paused webhook was last resumed (NULL: never paused and resumed).
-- Ordered delivery owes a conversation's events stored since then, not
-- those a paused webhook was never matched to.
ALTER TABLE webhooks ADD COLUMN resumed_at DATETIME;
