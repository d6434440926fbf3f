-- +goose Up
-- Events as accepted from the platform. The payload is kept byte for byte
-- (TEXT, not JSONB, which would re-encode it) so that retries and recovers
-- after the workflow has closed still send exactly what was emitted.
CREATE TABLE events (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    type         TEXT NOT NULL,
    occurred_at  TIMESTAMPTZ NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    payload      TEXT NOT NULL
);
CREATE INDEX events_workspace_received ON events (workspace_id, received_at);

CREATE TABLE webhooks (
    id                 TEXT PRIMARY KEY,
    workspace_id       TEXT NOT NULL,
    url                TEXT NOT NULL,
    display_name       TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('ACTIVE', 'PAUSED')),
    events             TEXT NOT NULL,
    paused_reason      TEXT NOT NULL DEFAULT '',
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    last_attempted_at  TIMESTAMPTZ,
    last_error_at      TIMESTAMPTZ,
    last_error_message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX webhooks_workspace_id ON webhooks (workspace_id, id);

-- One row per subscription entry, so matching an event is an index lookup.
CREATE TABLE webhook_subscriptions (
    webhook_id   TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    pattern      TEXT NOT NULL,
    PRIMARY KEY (webhook_id, pattern)
);
CREATE INDEX webhook_subscriptions_match ON webhook_subscriptions (workspace_id, pattern);

CREATE TABLE webhook_secrets (
    id         BIGSERIAL PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    secret     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ
);
CREATE INDEX webhook_secrets_webhook ON webhook_secrets (webhook_id);

-- API keys are stored as the SHA-256 of their value, never the value.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    hash         BYTEA NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    workspace_id TEXT NOT NULL DEFAULT '',
    scopes       TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ
);
