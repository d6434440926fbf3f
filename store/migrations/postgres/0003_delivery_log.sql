-- +goose Up
-- The delivery log: one row per (event, webhook) delivery, and one per
-- attempt at it. There is no foreign key to webhooks, so that deleting a
-- webhook is cheap and its log stays readable until retention removes it.
CREATE TABLE deliveries (
    id                TEXT PRIMARY KEY,
    workspace_id      TEXT NOT NULL,
    webhook_id        TEXT NOT NULL,
    event_id          TEXT NOT NULL,
    event_type        TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'skipped')),
    attempt_count     INTEGER NOT NULL DEFAULT 0,
    -- Attempts the retry schedule made: its position, whatever manual
    -- retries or failed bookkeeping happened in between.
    scheduled_count   INTEGER NOT NULL DEFAULT 0,
    last_status_code  INTEGER,
    last_error        TEXT NOT NULL DEFAULT '',
    last_attempted_at TIMESTAMPTZ,
    next_attempt_at   TIMESTAMPTZ,
    workflow_id       TEXT NOT NULL,
    run_id            TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    UNIQUE (event_id, webhook_id)
);
-- Listing newest first, with or without a status filter; recover's scan.
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, id);
CREATE INDEX deliveries_webhook_status ON deliveries (webhook_id, status, id);
-- Retention.
CREATE INDEX deliveries_created ON deliveries (created_at);

CREATE TABLE delivery_attempts (
    id            BIGSERIAL PRIMARY KEY,
    delivery_id   TEXT NOT NULL,
    webhook_id    TEXT NOT NULL,
    number        INTEGER NOT NULL,
    trigger       TEXT NOT NULL,
    outcome       TEXT NOT NULL CHECK (outcome IN ('sending', 'delivered', 'failed', 'unknown')),
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    status_code   INTEGER,
    latency_ms    INTEGER,
    response_body TEXT NOT NULL DEFAULT '',
    error         TEXT NOT NULL DEFAULT '',
    next_attempt_at TIMESTAMPTZ,
    workflow_id   TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    UNIQUE (delivery_id, number)
);
-- Stats: one webhook's attempts over a week, read from the index alone.
CREATE INDEX delivery_attempts_stats ON delivery_attempts (webhook_id, started_at) INCLUDE (outcome, latency_ms);

-- Retention of events follows the log's.
CREATE INDEX events_received ON events (received_at);

-- Stats of days that are over, computed from delivery_attempts once and
-- kept, so that the 7-day summary reads the log only for today.
CREATE TABLE delivery_stats_days (
    webhook_id TEXT NOT NULL,
    day        TEXT NOT NULL,
    delivered  INTEGER NOT NULL,
    failed     INTEGER NOT NULL,
    p50_ms     INTEGER,
    p95_ms     INTEGER,
    PRIMARY KEY (webhook_id, day)
);

-- Hours of today that are over, kept the same way: counts and how many
-- attempts took each latency, as JSON [[ms, attempts], …], so that they add
-- up to exact percentiles.
CREATE TABLE delivery_stats_hours (
    webhook_id TEXT NOT NULL,
    hour       TEXT NOT NULL,
    delivered  INTEGER NOT NULL,
    failed     INTEGER NOT NULL,
    latencies  TEXT NOT NULL,
    PRIMARY KEY (webhook_id, hour)
);
