-- +goose Up
-- The key that made a portal link, and so every session it opened:
-- revoking the key ends them. NULL for links made before this was kept.
ALTER TABLE portal_codes ADD COLUMN key_id TEXT;
ALTER TABLE portal_sessions ADD COLUMN key_id TEXT;
CREATE INDEX portal_codes_key ON portal_codes (key_id);
CREATE INDEX portal_sessions_key ON portal_sessions (key_id);
CREATE INDEX portal_sessions_workspace ON portal_sessions (workspace_id, created_at);
