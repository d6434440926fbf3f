-- +goose Up
-- A webhook's ordering ('conversation', or NULL for none), and each
-- event's conversation (payload.conversation.id or
-- payload.message.conversationId) with the order events were stored in,
-- so that a webhook's deliveries of one conversation go in that order.
ALTER TABLE webhooks ADD COLUMN ordering TEXT;
ALTER TABLE events ADD COLUMN conversation_id TEXT;
ALTER TABLE events ADD COLUMN seq BIGSERIAL;
CREATE INDEX events_conversation ON events (workspace_id, conversation_id, seq) WHERE conversation_id IS NOT NULL;
