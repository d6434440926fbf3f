-- +goose Up
-- Operators' gauge of deliveries waiting for a scheduled retry
-- (tidyhooks_deliveries_waiting_retry) counts pending deliveries; this
-- index keeps that a small read however long the log grows.
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at) WHERE status = 'pending';
