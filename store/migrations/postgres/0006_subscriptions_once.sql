-- +goose Up
-- A webhook's subscriptions are kept once, in webhook_subscriptions, with
-- their place in the list as given; the comma-separated webhooks.events
-- column that repeated them goes. A pattern's place is the offset of
-- ",pattern," in ",events,": the entries are unique, so offsets order them
-- as the list did.
ALTER TABLE webhook_subscriptions ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
UPDATE webhook_subscriptions SET position = (
    SELECT strpos(',' || w.events || ',', ',' || webhook_subscriptions.pattern || ',')
    FROM webhooks w WHERE w.id = webhook_subscriptions.webhook_id
);
ALTER TABLE webhooks DROP COLUMN events;
