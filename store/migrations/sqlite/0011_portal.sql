-- +goose Up
-- The embeddable portal: one-time codes in the links the platform hands
-- out, and the sessions they open. Both are kept as SHA-256 hashes only.
CREATE TABLE portal_codes (
    hash         BLOB PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    read_only    BOOLEAN NOT NULL,
    ttl_seconds  INTEGER NOT NULL,
    return_url   TEXT NOT NULL,
    created_at   DATETIME NOT NULL,
    expires_at   DATETIME NOT NULL,
    used_at      DATETIME
);
CREATE TABLE portal_sessions (
    id           TEXT PRIMARY KEY,
    hash         BLOB NOT NULL UNIQUE,
    csrf_hash    BLOB NOT NULL,
    workspace_id TEXT NOT NULL,
    read_only    BOOLEAN NOT NULL,
    return_url   TEXT NOT NULL,
    created_at   DATETIME NOT NULL,
    expires_at   DATETIME NOT NULL,
    ended_at     DATETIME
);
CREATE INDEX portal_codes_expires ON portal_codes (expires_at);
CREATE INDEX portal_sessions_expires ON portal_sessions (expires_at);
