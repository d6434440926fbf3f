-- +goose Up
-- A webhook's custom headers and endpoint authentication, as one JSON
-- object encrypted like its signing secrets (NULL: none).
ALTER TABLE webhooks ADD COLUMN endpoint TEXT;
-- Its payload filters, as JSON (NULL: none); not secret, so that matching
-- reads them without the key.
ALTER TABLE webhooks ADD COLUMN filters TEXT;
-- OAuth2 tokens fetched for webhooks, shared by the workers until shortly
-- before they expire; settings is a hash of the OAuth2 configuration the
-- token was fetched with, so that a rotated client secret fetches anew.
CREATE TABLE oauth_tokens (
    webhook_id TEXT PRIMARY KEY REFERENCES webhooks (id) ON DELETE CASCADE,
    settings   TEXT NOT NULL,
    token      TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
