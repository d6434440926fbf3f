package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/tidysupport/tidyhooks/models"
)

// ErrWebhookLimit is returned when a workspace has as many webhooks as it
// may.
var ErrWebhookLimit = fmt.Errorf("%w: the workspace has reached its webhook limit", models.ErrLimit)

// CreateWebhook stores w (its id and times are set here) with its first
// signing secret, unless the workspace already has limit webhooks, and
// returns it as stored.
func (s *Store) CreateWebhook(ctx context.Context, w models.Webhook, secret string, limit int) (models.Webhook, error) {
	if s.sealer == nil {
		return models.Webhook{}, ErrNoEncryptionKey
	}
	now := s.now()
	w.ID = models.NewID("wh", now)
	w.CreatedAt, w.UpdatedAt = now, now
	if w.Status == models.WebhookPaused {
		w.PausedAt, w.PauseAcknowledgedAt = &now, &now // paused on request
	}
	sealed, err := s.sealer.seal(secret, w.ID)
	if err != nil {
		return models.Webhook{}, err
	}
	endpoint, err := s.sealEndpoint(w)
	if err != nil {
		return models.Webhook{}, err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.lockWorkspace(tx, w.WorkspaceID); err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&webhookRow{}).Where("workspace_id = ?", w.WorkspaceID).Count(&n).Error; err != nil {
			return err
		}
		if limit > 0 && n >= int64(limit) {
			return ErrWebhookLimit
		}
		row := webhookToRow(w)
		row.Endpoint = endpoint
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		if err := tx.Create(subscriptionRows(w)).Error; err != nil {
			return err
		}
		return tx.Create(&secretRow{WebhookID: w.ID, Secret: sealed, CreatedAt: now}).Error
	})
	if err != nil {
		return models.Webhook{}, fmt.Errorf("create webhook: %w", translate(err))
	}
	return w, nil
}

// lockWorkspace serialises writes that check a workspace-wide limit. On
// SQLite every write transaction is already serialised (_txlock=immediate).
func (s *Store) lockWorkspace(tx *gorm.DB, workspaceID string) error {
	if s.dialect != "postgres" {
		return nil
	}
	return tx.Exec("SELECT pg_advisory_xact_lock(hashtext(?))", "tidyhooks-workspace:"+workspaceID).Error
}

func subscriptionRows(w models.Webhook) []subscriptionRow {
	rows := make([]subscriptionRow, len(w.Events))
	for i, p := range w.Events {
		rows[i] = subscriptionRow{WebhookID: w.ID, WorkspaceID: w.WorkspaceID, Pattern: p, Position: i + 1}
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
	if err := withSubscriptions(q).Find(&rows).Error; err != nil {
		return models.Page[models.Webhook]{}, fmt.Errorf("list webhooks: %w", translate(err))
	}
	var openErr error
	p := page(rows, limit, func(r webhookRow) string { return r.ID }, func(r webhookRow) models.Webhook {
		w, err := s.webhookModel(r)
		openErr = cmp.Or(openErr, err)
		return w
	})
	if openErr != nil {
		return models.Page[models.Webhook]{}, fmt.Errorf("list webhooks: %w", openErr)
	}
	return p, nil
}

// Webhook returns one webhook of a workspace; another workspace's webhook
// is not found.
func (s *Store) Webhook(ctx context.Context, workspaceID, id string) (models.Webhook, error) {
	var row webhookRow
	if err := withSubscriptions(s.db.WithContext(ctx)).Take(&row, "id = ? AND workspace_id = ?", id, workspaceID).Error; err != nil {
		return models.Webhook{}, fmt.Errorf("load webhook %s: %w", id, translate(err))
	}
	return s.webhookModel(row)
}

// withSubscriptions reads the webhooks' subscription lists with them, in
// their order.
func withSubscriptions(q *gorm.DB) *gorm.DB {
	return q.Preload("Subscriptions", func(db *gorm.DB) *gorm.DB { return db.Order("position") })
}

// UpdateWebhook applies change to a workspace's webhook in one
// transaction holding the row's lock, so that concurrent updates apply one
// after the other and never mix. change returns an error to abort.
func (s *Store) UpdateWebhook(ctx context.Context, workspaceID, id string, change func(*models.Webhook) error) (models.Webhook, error) {
	var out models.Webhook
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := tx
		if s.dialect == "postgres" {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		var row webhookRow
		if err := withSubscriptions(q).Take(&row, "id = ? AND workspace_id = ?", id, workspaceID).Error; err != nil {
			return err
		}
		w, err := s.webhookModel(row)
		if err != nil {
			return err
		}
		before := w
		if err := change(&w); err != nil {
			return err
		}
		w.ID, w.WorkspaceID, w.CreatedAt = before.ID, before.WorkspaceID, before.CreatedAt
		w.UpdatedAt = s.now()
		switch {
		case w.Status == models.WebhookActive:
			// An active webhook has no pause to tell of.
			w.PausedReason, w.PausedAt, w.PauseAcknowledgedAt = "", nil, nil
		case before.Status == models.WebhookActive:
			// Paused on request: taken note of by whoever asked.
			w.PausedAt, w.PauseAcknowledgedAt = &w.UpdatedAt, &w.UpdatedAt
		}
		updated := webhookToRow(w)
		if updated.Endpoint, err = s.sealEndpoint(w); err != nil {
			return err
		}
		if err := tx.Select("*").Omit("id", "workspace_id", "created_at", clause.Associations).Updates(&updated).Error; err != nil {
			return err
		}
		if before.Status == models.WebhookActive && w.Status != models.WebhookActive {
			if err := s.skipPending(tx, id, skippedBecause("")); err != nil {
				return err
			}
		}
		// Resuming starts the auto-pause clock afresh, and ordered delivery
		// owes what is stored from now on (NextInOrder).
		if before.Status != models.WebhookActive && w.Status == models.WebhookActive {
			if err := tx.Exec("UPDATE webhooks SET failing_since = NULL, resumed_at = ? WHERE id = ?", w.UpdatedAt.UTC(), id).Error; err != nil {
				return err
			}
		}
		if err := tx.Where("webhook_id = ?", id).Delete(&subscriptionRow{}).Error; err != nil {
			return err
		}
		if err := tx.Create(subscriptionRows(w)).Error; err != nil {
			return err
		}
		out = w
		return nil
	})
	if err != nil {
		var ve *models.ValidationError
		if errors.As(err, &ve) {
			return models.Webhook{}, err
		}
		return models.Webhook{}, fmt.Errorf("update webhook %s: %w", id, translate(err))
	}
	return out, nil
}

// DeleteWebhook deletes a workspace's webhook with its secrets; its
// pending deliveries are skipped. Its log stays until retention removes it.
func (s *Store) DeleteWebhook(ctx context.Context, workspaceID, id string) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("id = ? AND workspace_id = ?", id, workspaceID).Delete(&webhookRow{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return models.ErrNotFound
		}
		return s.skipPending(tx, id, "skipped: the webhook was deleted")
	})
	if err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, translate(err))
	}
	return nil
}

// MatchWebhooks returns the ids of the workspace's ACTIVE webhooks
// subscribed to event type e whose payload filters the event eventID
// passes, in id order.
func (s *Store) MatchWebhooks(ctx context.Context, workspaceID string, e models.EventType, eventID string) ([]string, error) {
	m, err := s.MatchEvent(ctx, workspaceID, e, eventID)
	return m.WebhookIDs, err
}

// MatchEvent is MatchWebhooks, also saying which of the webhooks take the
// event's conversation in order. Without the event's id (a lookup recorded
// before filters existed) filters cannot be read: the webhook is matched,
// as it was then, rather than the event dropped; and nothing is ordered.
func (s *Store) MatchEvent(ctx context.Context, workspaceID string, e models.EventType, eventID string) (models.Match, error) {
	var rows []struct {
		ID       string
		Filters  *string
		Ordering *string
	}
	db := s.db.WithContext(ctx)
	// A webhook created after the event was stored never receives it,
	// however late the event is processed (SPEC §4).
	created, args := "", []any{workspaceID, models.SubscriptionPatterns(e), string(models.WebhookActive)}
	if eventID != "" {
		created = " AND NOT EXISTS (SELECT 1 FROM events ev WHERE ev.workspace_id = ? AND ev.id = ? AND ev.received_at < w.created_at)"
		args = append(args, workspaceID, eventID)
	}
	err := db.Raw(`SELECT DISTINCT w.id, w.filters, w.ordering FROM webhook_subscriptions s JOIN webhooks w ON w.id = s.webhook_id
			WHERE s.workspace_id = ? AND s.pattern IN ? AND w.status = ?`+created+` ORDER BY w.id`, args...).
		Scan(&rows).Error
	if err != nil {
		return models.Match{}, fmt.Errorf("match webhooks: %w", translate(err))
	}
	type stored struct {
		Payload        string
		ConversationID *string
		Seq            int64
	}
	var (
		m     = models.Match{WebhookIDs: make([]string, 0, len(rows))}
		event *stored // read once, if a webhook filters or orders
	)
	load := func() error {
		if event != nil {
			return nil
		}
		var found []stored
		err := db.Raw("SELECT e.payload, e.conversation_id, "+seqColumn[s.dialect]+" AS seq FROM events e WHERE e.workspace_id = ? AND e.id = ?",
			workspaceID, eventID).Scan(&found).Error
		if err != nil {
			return fmt.Errorf("match webhooks: load event %s: %w", eventID, translate(err))
		}
		event = &stored{}
		if len(found) > 0 {
			event = &found[0]
		}
		return nil
	}
	for _, r := range rows {
		filters, err := readFilters(r.Filters)
		if err != nil {
			return models.Match{}, fmt.Errorf("match webhooks: webhook %s: %w", r.ID, err)
		}
		if len(filters) > 0 && eventID != "" {
			if err := load(); err != nil {
				return models.Match{}, err
			}
			if !models.MatchFilters(filters, []byte(event.Payload)) {
				continue
			}
		}
		m.WebhookIDs = append(m.WebhookIDs, r.ID)
		if deref(r.Ordering) == models.OrderingConversation && eventID != "" {
			if err := load(); err != nil {
				return models.Match{}, err
			}
			if event.ConversationID != nil {
				m.Ordered = append(m.Ordered, r.ID)
				m.ConversationID, m.Seq = *event.ConversationID, event.Seq
			}
		}
	}
	return m, nil
}

// Secrets returns a workspace's webhook's signing secrets valid now,
// newest (the current one) first.
func (s *Store) Secrets(ctx context.Context, workspaceID, id string) ([]models.Secret, error) {
	if s.sealer == nil {
		return nil, ErrNoEncryptionKey
	}
	db := s.db.WithContext(ctx)
	if _, err := s.Webhook(ctx, workspaceID, id); err != nil {
		return nil, err
	}
	var rows []secretRow
	if err := db.Where("webhook_id = ? AND (expires_at IS NULL OR expires_at > ?)", id, s.now()).Order("id DESC").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("load secrets of webhook %s: %w", id, translate(err))
	}
	out := make([]models.Secret, 0, len(rows))
	for _, r := range rows {
		plain, err := s.sealer.open(r.Secret, id)
		if err != nil {
			return nil, fmt.Errorf("secret of webhook %s: %w", id, err)
		}
		out = append(out, models.Secret{Value: plain, CreatedAt: r.CreatedAt.UTC(), ExpiresAt: utcPtr(r.ExpiresAt)})
	}
	return out, nil
}

// RotateSecret makes secret the webhook's current signing secret; the
// secrets valid until now keep signing for grace (0: they stop at once),
// until the time it returns.
func (s *Store) RotateSecret(ctx context.Context, workspaceID, id, secret string, grace time.Duration) (time.Time, error) {
	if s.sealer == nil {
		return time.Time{}, ErrNoEncryptionKey
	}
	sealed, err := s.sealer.seal(secret, id)
	if err != nil {
		return time.Time{}, err
	}
	now := s.now()
	until := now.Add(grace)
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&webhookRow{}).Where("id = ? AND workspace_id = ?", id, workspaceID).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return models.ErrNotFound
		}
		// Secrets already expiring keep the earlier of their end and the new one.
		if err := tx.Model(&secretRow{}).Where("webhook_id = ? AND (expires_at IS NULL OR expires_at > ?)", id, until).
			Update("expires_at", until).Error; err != nil {
			return err
		}
		return tx.Create(&secretRow{WebhookID: id, Secret: sealed, CreatedAt: now}).Error
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("rotate secret of webhook %s: %w", id, translate(err))
	}
	return until, nil
}

// PauseWebhook pauses the workspace's webhook automatically with reason,
// unless it is gone, and marks its pending deliveries skipped. An active
// webhook's pause is announced: the webhook.paused event is stored in the
// same transaction and returned, for the caller to publish (the sweep of
// announcements publishes it if the caller cannot). A webhook paused
// already keeps its pause, with the new reason.
func (s *Store) PauseWebhook(ctx context.Context, workspaceID, id, reason string) (announce []models.Event, err error) {
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := s.now()
		res := tx.Model(&webhookRow{}).Where("id = ? AND workspace_id = ? AND status = ?", id, workspaceID, string(models.WebhookActive)).
			Updates(map[string]any{"status": string(models.WebhookPaused), "paused_reason": reason, "updated_at": now,
				"paused_at": now, "pause_acknowledged_at": nil})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			res = tx.Model(&webhookRow{}).Where("id = ? AND workspace_id = ?", id, workspaceID).
				Updates(map[string]any{"paused_reason": reason, "updated_at": now})
			if res.Error != nil || res.RowsAffected == 0 {
				return res.Error
			}
		} else if announce, err = s.announcePause(tx, workspaceID, id, reason, now); err != nil {
			return err
		}
		return s.skipPending(tx, id, skippedBecause(reason))
	})
	if err != nil {
		return nil, fmt.Errorf("pause webhook %s: %w", id, translate(err))
	}
	return announce, nil
}

// announcePause stores, in tx, the webhook.paused event telling the
// workspace that its webhook was paused automatically at pausedAt.
func (s *Store) announcePause(tx *gorm.DB, workspaceID, id, reason string, pausedAt time.Time) ([]models.Event, error) {
	var w webhookRow
	if err := tx.Select("id", "url", "display_name").Take(&w, "id = ? AND workspace_id = ?", id, workspaceID).Error; err != nil {
		return nil, err
	}
	payload, err := json.Marshal(map[string]any{
		"webhook":  map[string]string{"id": w.ID, "url": w.URL, "displayName": w.DisplayName},
		"reason":   reason,
		"pausedAt": pausedAt.UTC().Format(models.TimestampLayout),
	})
	if err != nil {
		return nil, err
	}
	ev := models.Event{
		ID: models.NewID("evt", pausedAt), WorkspaceID: workspaceID, Type: models.WebhookPausedEvent,
		OccurredAt: pausedAt.UTC().Truncate(time.Millisecond), ReceivedAt: pausedAt.UTC(), Payload: payload,
	}
	row := eventToRow(ev)
	if err := tx.Create(&row).Error; err != nil {
		return nil, err
	}
	return []models.Event{ev}, nil
}

// PauseAnnouncements returns the webhook.paused events stored since, for
// the sweep that makes sure each was published.
func (s *Store) PauseAnnouncements(ctx context.Context, since time.Time) ([]models.Event, error) {
	var rows []eventRow
	if err := s.db.WithContext(ctx).Where("type = ? AND received_at >= ?", models.WebhookPausedEvent.Name, since.UTC()).
		Order("received_at").Limit(1000).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("load pause announcements: %w", translate(err))
	}
	out := make([]models.Event, 0, len(rows))
	for _, r := range rows {
		ev, err := r.model()
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// AcknowledgePause takes note of the workspace's webhook's automatic
// pause, so that the dashboard stops telling of it. A webhook that is not
// paused is a conflict; acknowledging twice changes nothing.
func (s *Store) AcknowledgePause(ctx context.Context, workspaceID, id string) (models.Webhook, error) {
	w, err := s.Webhook(ctx, workspaceID, id)
	if err != nil {
		return models.Webhook{}, err
	}
	if w.Status != models.WebhookPaused {
		return models.Webhook{}, &models.ConflictError{Message: "the webhook is not paused; there is no pause to acknowledge"}
	}
	if w.PauseAcknowledgedAt != nil {
		return w, nil
	}
	err = s.db.WithContext(ctx).Model(&webhookRow{}).Where("id = ? AND workspace_id = ? AND status = ? AND pause_acknowledged_at IS NULL",
		id, workspaceID, string(models.WebhookPaused)).Update("pause_acknowledged_at", s.now()).Error
	if err != nil {
		return models.Webhook{}, fmt.Errorf("acknowledge pause of webhook %s: %w", id, translate(err))
	}
	return s.Webhook(ctx, workspaceID, id)
}

// RecordAttempt keeps the workspace's webhook's lastAttemptedAt current. A failure
// (errMsg not empty) also sets lastErrorAt and lastErrorMessage and starts
// a run of failures if none is running; a success ends the run. When
// pauseAfter > 0 and the run has lasted that long, an ACTIVE webhook is
// paused with the reason, and announce holds the webhook.paused event
// stored with the pause (see PauseWebhook).
func (s *Store) RecordAttempt(ctx context.Context, workspaceID, id string, at time.Time, errMsg string, pauseAfter time.Duration) (announce []models.Event, err error) {
	db := s.db.WithContext(ctx)
	at = at.UTC()
	if errMsg == "" {
		err = db.Exec("UPDATE webhooks SET last_attempted_at = ?, failing_since = NULL WHERE id = ? AND workspace_id = ?", at, id, workspaceID).Error
	} else {
		err = db.Exec(`UPDATE webhooks SET last_attempted_at = ?, last_error_at = ?, last_error_message = ?,
			failing_since = COALESCE(failing_since, ?) WHERE id = ? AND workspace_id = ?`, at, at, errMsg, at, id, workspaceID).Error
	}
	if err != nil {
		return nil, fmt.Errorf("record attempt on webhook %s: %w", id, translate(err))
	}
	if errMsg == "" || pauseAfter <= 0 {
		return nil, nil
	}
	reason := fmt.Sprintf("every delivery attempt failed for %s; last error: %s", pauseAfter, errMsg)
	err = db.Transaction(func(tx *gorm.DB) error {
		now := s.now()
		res := tx.Exec(`UPDATE webhooks SET status = ?, paused_reason = ?, updated_at = ?, paused_at = ?, pause_acknowledged_at = NULL
			WHERE id = ? AND workspace_id = ? AND status = ? AND failing_since <= ?`,
			string(models.WebhookPaused), reason, now, now, id, workspaceID, string(models.WebhookActive), at.Add(-pauseAfter))
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		var err error
		if announce, err = s.announcePause(tx, workspaceID, id, reason, now); err != nil {
			return err
		}
		return s.skipPending(tx, id, skippedBecause(reason))
	})
	if err != nil {
		return nil, fmt.Errorf("auto-pause webhook %s: %w", id, translate(err))
	}
	return announce, nil
}

// skippedBecause is the last error of a delivery skipped when its webhook
// was paused for reason.
func skippedBecause(reason string) string {
	if reason == "" {
		return "skipped: the webhook was paused"
	}
	return "skipped: the webhook was paused (" + reason + ")"
}

// deliveryExtra is the part of a DeliveryInputs row beyond the webhook's
// columns: the event, and one valid secret per row.
type deliveryExtra struct {
	EventID          string
	EventWorkspaceID string
	EventType        string
	EventOccurredAt  time.Time
	EventReceivedAt  time.Time
	EventPayload     string
	SecretID         *int64
	SecretValue      *string
	DeliveryStatus   *string
}

// DeliveryInputs returns, in one round trip, what one delivery attempt
// needs: the webhook by id, the secrets that sign at time now (the current
// one first), the webhook's workspace's event of that id and the delivery's
// status so far. Another workspace's event of the same id is never read. A
// deleted webhook or a missing event is a *models.NotFoundError
// saying which.
//
// It takes no workspace, unlike the store's other reads of a webhook's
// data: the webhook's own workspace is the only one it can join, so it
// cannot pair two tenants, and the delivery activity's input, recorded in
// the histories of deliveries under way and reused by each of their
// retries, names no workspace to pass.
func (s *Store) DeliveryInputs(ctx context.Context, webhookID, eventID string, now time.Time) (models.DeliveryJob, error) {
	if s.sealer == nil {
		return models.DeliveryJob{}, ErrNoEncryptionKey
	}
	db := s.db.WithContext(ctx)
	rows, err := db.Raw(`SELECT w.*, e.id AS event_id, e.workspace_id AS event_workspace_id, e.type AS event_type,
			e.occurred_at AS event_occurred_at, e.received_at AS event_received_at, e.payload AS event_payload,
			sec.id AS secret_id, sec.secret AS secret_value, d.status AS delivery_status
		FROM webhooks w
		JOIN events e ON e.id = ? AND e.workspace_id = w.workspace_id
		LEFT JOIN deliveries d ON d.event_id = e.id AND d.webhook_id = w.id
		LEFT JOIN webhook_secrets sec ON sec.webhook_id = w.id AND (sec.expires_at IS NULL OR sec.expires_at > ?)
		WHERE w.id = ?
		ORDER BY sec.id DESC`, eventID, now.UTC(), webhookID).Rows()
	if err != nil {
		return models.DeliveryJob{}, fmt.Errorf("load delivery of %s to %s: %w", eventID, webhookID, translate(err))
	}
	defer rows.Close()
	var (
		webhook webhookRow // its subscriptions are not read: a delivery does not need them
		first   deliveryExtra
		secrets []string
		n       int
	)
	for rows.Next() {
		var extra deliveryExtra
		if n == 0 {
			// The webhook's and the event's columns are the same on every row.
			if err := db.ScanRows(rows, &webhook); err != nil {
				return models.DeliveryJob{}, fmt.Errorf("read webhook %s: %w", webhookID, err)
			}
		}
		if err := db.ScanRows(rows, &extra); err != nil {
			return models.DeliveryJob{}, fmt.Errorf("read delivery of %s: %w", eventID, err)
		}
		if n == 0 {
			first = extra
		}
		n++
		if extra.SecretValue == nil {
			continue
		}
		plain, err := s.sealer.open(*extra.SecretValue, webhookID)
		if err != nil {
			return models.DeliveryJob{}, fmt.Errorf("secret %d of webhook %s: %w", *extra.SecretID, webhookID, err)
		}
		secrets = append(secrets, plain)
	}
	if err := rows.Err(); err != nil {
		return models.DeliveryJob{}, fmt.Errorf("load delivery of %s to %s: %w", eventID, webhookID, translate(err))
	}
	if n == 0 {
		// Rare: say which of the two is gone.
		var ws string
		if err := db.Raw("SELECT workspace_id FROM webhooks WHERE id = ?", webhookID).Scan(&ws).Error; err != nil {
			return models.DeliveryJob{}, fmt.Errorf("load webhook %s: %w", webhookID, translate(err))
		}
		if ws == "" {
			return models.DeliveryJob{}, &models.NotFoundError{Kind: "webhook", ID: webhookID}
		}
		if _, err := s.Event(ctx, ws, eventID); errors.Is(err, models.ErrNotFound) {
			return models.DeliveryJob{}, &models.NotFoundError{Kind: "event", ID: eventID}
		} else if err != nil {
			return models.DeliveryJob{}, err
		}
		return models.DeliveryJob{}, &models.NotFoundError{Kind: "webhook", ID: webhookID}
	}
	event, err := eventRow{
		ID: first.EventID, WorkspaceID: first.EventWorkspaceID, Type: first.EventType,
		OccurredAt: first.EventOccurredAt, ReceivedAt: first.EventReceivedAt, Payload: first.EventPayload,
	}.model()
	if err != nil {
		return models.DeliveryJob{}, err
	}
	w, err := s.webhookModel(webhook)
	if err != nil {
		return models.DeliveryJob{}, err
	}
	job := models.DeliveryJob{Webhook: w, Secrets: secrets, Event: event}
	if first.DeliveryStatus != nil {
		job.Status = models.DeliveryStatus(*first.DeliveryStatus)
	}
	return job, nil
}
