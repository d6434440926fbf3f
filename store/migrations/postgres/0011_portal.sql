-- +goose Up
-- The embeddable portal: one-time codes in the links the platform hands
-- out, and the sessions they open. Both are kept as SHA-256 hashes only.
CREATE TABLE portal_codes (
    hash         BYTEA PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    read_only    BOOLEAN NOT NULL,
    ttl_seconds  INTEGER NOT NULL,
    return_url   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    used_at      TIMESTAMPTZ
);
CREATE TABLE portal_sessions (
    id           TEXT PRIMARY KEY,
    hash         BYTEA NOT NULL UNIQUE,
    csrf_hash    BYTEA NOT NULL,
    workspace_id TEXT NOT NULL,
    read_only    BOOLEAN NOT NULL,
    return_url   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    ended_at     TIMESTAMPTZ
);
CREATE INDEX portal_codes_expires ON portal_codes (expires_at);
CREATE INDEX portal_sessions_expires ON portal_sessions (expires_at);
