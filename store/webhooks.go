package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/tidysupport/tidyhooks/models"
)

// CreateWebhook stores w (its id and times are set here) with its first
// signing secret and returns it as stored.
func (s *Store) CreateWebhook(ctx context.Context, w models.Webhook, secret string) (models.Webhook, error) {
	now := s.now()
	w.ID = models.NewID("wh", now)
	w.CreatedAt, w.UpdatedAt = now, now
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		row := webhookToRow(w)
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		if err := tx.Create(subscriptionRows(w)).Error; err != nil {
			return err
		}
		return tx.Create(&secretRow{WebhookID: w.ID, Secret: secret, CreatedAt: now}).Error
	})
	if err != nil {
		return models.Webhook{}, fmt.Errorf("create webhook: %w", translate(err))
	}
	return w, nil
}

func subscriptionRows(w models.Webhook) []subscriptionRow {
	rows := make([]subscriptionRow, len(w.Events))
	for i, p := range w.Events {
		rows[i] = subscriptionRow{WebhookID: w.ID, WorkspaceID: w.WorkspaceID, Pattern: p}
	}
	return rows
}

// ListWebhooks returns a workspace's webhooks in creation order, limit at a
// time, starting after cursor ("" for the first page).
func (s *Store) ListWebhooks(ctx context.Context, workspaceID, cursor string, limit int) (models.Page[models.Webhook], error) {
	q := s.db.WithContext(ctx).Where("workspace_id = ?", workspaceID).Order("id").Limit(limit + 1)
	if cursor != "" {
		after, err := models.DecodeCursor(cursor)
		if err != nil {
			return models.Page[models.Webhook]{}, err
		}
		q = q.Where("id > ?", after)
	}
	var rows []webhookRow
	if err := q.Find(&rows).Error; err != nil {
		return models.Page[models.Webhook]{}, fmt.Errorf("list webhooks: %w", translate(err))
	}
	page := models.Page[models.Webhook]{Items: make([]models.Webhook, 0, len(rows))}
	for i, r := range rows {
		if i == limit {
			page.NextCursor = models.EncodeCursor(rows[i-1].ID)
			break
		}
		page.Items = append(page.Items, r.model())
	}
	return page, nil
}

// Webhook returns one webhook of a workspace; another workspace's webhook
// is not found.
func (s *Store) Webhook(ctx context.Context, workspaceID, id string) (models.Webhook, error) {
	var row webhookRow
	if err := s.db.WithContext(ctx).Take(&row, "id = ? AND workspace_id = ?", id, workspaceID).Error; err != nil {
		return models.Webhook{}, fmt.Errorf("load webhook %s: %w", id, translate(err))
	}
	return row.model(), nil
}

// MatchWebhooks returns the ids of the workspace's ACTIVE webhooks
// subscribed to event type e, in id order.
func (s *Store) MatchWebhooks(ctx context.Context, workspaceID string, e models.EventType) ([]string, error) {
	var ids []string
	err := s.db.WithContext(ctx).
		Raw(`SELECT DISTINCT w.id FROM webhook_subscriptions s JOIN webhooks w ON w.id = s.webhook_id
			WHERE s.workspace_id = ? AND s.pattern IN ? AND w.status = ? ORDER BY w.id`,
			workspaceID, models.SubscriptionPatterns(e), string(models.WebhookActive)).
		Scan(&ids).Error
	if err != nil {
		return nil, fmt.Errorf("match webhooks: %w", translate(err))
	}
	return ids, nil
}

// DeliveryTarget returns a webhook by id whatever its workspace, with the
// secrets that sign at time now (the current one first), for the delivery
// activity. A deleted webhook is models.ErrNotFound.
func (s *Store) DeliveryTarget(ctx context.Context, id string, now time.Time) (models.Webhook, []string, error) {
	var row webhookRow
	if err := s.db.WithContext(ctx).Take(&row, "id = ?", id).Error; err != nil {
		return models.Webhook{}, nil, fmt.Errorf("load webhook %s: %w", id, translate(err))
	}
	var secrets []string
	err := s.db.WithContext(ctx).Model(&secretRow{}).
		Where("webhook_id = ? AND (expires_at IS NULL OR expires_at > ?)", id, now.UTC()).
		Order("id DESC").Pluck("secret", &secrets).Error
	if err != nil {
		return models.Webhook{}, nil, fmt.Errorf("load secrets of webhook %s: %w", id, translate(err))
	}
	return row.model(), secrets, nil
}

// PauseWebhook sets a webhook PAUSED with reason, unless it is gone.
func (s *Store) PauseWebhook(ctx context.Context, id, reason string) error {
	err := s.db.WithContext(ctx).Model(&webhookRow{}).Where("id = ?", id).
		Updates(map[string]any{"status": string(models.WebhookPaused), "paused_reason": reason, "updated_at": s.now()}).Error
	if err != nil {
		return fmt.Errorf("pause webhook %s: %w", id, translate(err))
	}
	return nil
}

// RecordAttempt keeps a webhook's lastAttemptedAt current and, when errMsg
// is not empty, its lastErrorAt and lastErrorMessage.
func (s *Store) RecordAttempt(ctx context.Context, id string, at time.Time, errMsg string) error {
	fields := map[string]any{"last_attempted_at": at.UTC()}
	if errMsg != "" {
		fields["last_error_at"] = at.UTC()
		fields["last_error_message"] = errMsg
	}
	err := s.db.WithContext(ctx).Model(&webhookRow{}).Where("id = ?", id).Updates(fields).Error
	if err != nil {
		return fmt.Errorf("record attempt on webhook %s: %w", id, translate(err))
	}
	return nil
}
