package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/tidysupport/tidyhooks/models"
)

// Ordered delivery keeps its ledger in the delivery log like every other
// path: an event queued to a webhook that takes its conversation in order
// has a pending delivery with no attempt yet (OweInOrder) from the moment
// it is queued, so that a pause skips it, a delete ends it, switching
// ordering off finds it and a lost ordered workflow's sweep fails it.

// seqColumn is the order events were stored in.
var seqColumn = map[string]string{"postgres": "e.seq", "sqlite": "e.rowid"}

// orderedPage is how many events of a conversation one search reads.
const orderedPage = 50

// OweInOrder records that each of the webhooks owes the event in order: a
// pending delivery with no attempt, created by workflowID (the event's
// own workflow), unless the delivery is already logged. A webhook paused
// since it was matched gets the delivery skipped instead, for recover to
// find; a deleted one gets nothing. On PostgreSQL the webhook's row is
// read under a share lock, so that a pause either sees the new delivery
// (and skips it) or is seen by it.
func (s *Store) OweInOrder(ctx context.Context, workspaceID, eventID, workflowID string, webhookIDs []string) error {
	db := s.db.WithContext(ctx)
	var types []string
	if err := db.Raw("SELECT type FROM events WHERE workspace_id = ? AND id = ?", workspaceID, eventID).Scan(&types).Error; err != nil {
		return fmt.Errorf("owe event %s in order: %w", eventID, translate(err))
	}
	if len(types) == 0 {
		return fmt.Errorf("owe event %s in order: %w", eventID, &models.NotFoundError{Kind: "event", ID: eventID})
	}
	typ, ok := models.LookupEvent(types[0])
	if !ok {
		return fmt.Errorf("owe event %s in order: unknown event type %q", eventID, types[0])
	}
	lock := s.forShare()
	now := s.now().UTC()
	err := db.Transaction(func(tx *gorm.DB) error {
		for _, id := range webhookIDs {
			err := tx.Exec(`INSERT INTO deliveries (id, workspace_id, webhook_id, event_id, event_type, status,
					attempt_count, last_error, workflow_id, run_id, created_at, updated_at)
				SELECT ?, w.workspace_id, w.id, ?, ?, CASE WHEN w.status = ? THEN ? ELSE ? END,
					0, CASE WHEN w.status = ? THEN '' ELSE ? END, ?, '', ?, ?
				FROM webhooks w WHERE w.id = ? AND w.workspace_id = ?`+lock+`
				ON CONFLICT (event_id, webhook_id) DO NOTHING`,
				models.NewID("dlv", now), eventID, typ.Wire,
				string(models.WebhookActive), string(models.DeliveryPending), string(models.DeliverySkipped),
				string(models.WebhookActive), skippedBecause(""), workflowID, now, now, id, workspaceID).Error
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("owe event %s in order: %w", eventID, translate(err))
	}
	return nil
}

// NextInOrder returns what an ordered webhook is owed next in a
// conversation, searching the events stored after afterSeq; a negative
// afterSeq (a new ordered delivery) starts after the last event the
// webhook settled (delivered, failed or skipped), or before the earliest
// event still owed to it (queued, attempted by no other workflow) if that
// comes first.
//
// An event is owed when it was queued to the webhook (a pending delivery:
// OweInOrder) and no workflow but the ordered delivery itself (workflowID)
// has attempted it — one of its attempts may have been lost with a
// worker, and it must go again before the next — or when it has no
// delivery yet and its
// event workflow would queue it: the webhook is subscribed to it, its
// payload passes the webhook's filter and it was stored after the webhook
// was created or last resumed. The second kind is how an event whose own
// workflow runs late still goes in its place.
//
// When the webhook no longer takes the conversation in order, End says
// why: deleted; paused, after what it was owed is logged skipped;
// unordered, with the events queued to it that are still owed (Owed).
// With canUnorder false (an ordered delivery that predates End
// unordered), the queued events are returned one at a time instead,
// until none is left.
func (s *Store) NextInOrder(ctx context.Context, workspaceID, webhookID, conversationID, workflowID string, afterSeq int64, canUnorder bool) (models.InOrderNext, error) {
	next := models.InOrderNext{Cursor: afterSeq}
	fail := func(err error) (models.InOrderNext, error) {
		return next, fmt.Errorf("next ordered event of %s for %s: %w", conversationID, webhookID, translate(err))
	}
	w, err := s.Webhook(ctx, workspaceID, webhookID)
	if errors.Is(err, models.ErrNotFound) {
		next.End = models.InOrderDeleted
		return next, nil
	}
	if err != nil {
		return next, err
	}
	db := s.db.WithContext(ctx)
	seq := seqColumn[s.dialect]
	if w.Status != models.WebhookActive {
		// Paused: what was queued is logged skipped. The pause skipped
		// every pending delivery; this catches those queued after it.
		err := db.Exec(`UPDATE deliveries SET status = ?, next_attempt_at = NULL, last_error = ?, updated_at = ?
			WHERE webhook_id = ? AND status = ? AND event_id IN
				(SELECT e.id FROM events e WHERE e.workspace_id = ? AND e.conversation_id = ?)`,
			string(models.DeliverySkipped), skippedBecause(w.PausedReason), s.now(), webhookID, string(models.DeliveryPending),
			workspaceID, conversationID).Error
		if err != nil {
			return fail(err)
		}
		next.End = models.InOrderPaused
		return next, nil
	}
	if w.Ordering != models.OrderingConversation && canUnorder {
		var owed []models.OrderedEvent
		err := db.Raw(`SELECT e.id AS event_id, `+seq+` AS seq FROM events e
			JOIN deliveries d ON d.event_id = e.id AND d.webhook_id = ?
			WHERE d.status = ? AND NOT EXISTS (SELECT 1 FROM delivery_attempts a WHERE a.delivery_id = d.id AND a.workflow_id <> ?) AND e.workspace_id = ? AND e.conversation_id = ?
			ORDER BY `+seq+` LIMIT ?`,
			webhookID, string(models.DeliveryPending), workflowID, workspaceID, conversationID, orderedPage).Scan(&owed).Error
		if err != nil {
			return fail(err)
		}
		next.End, next.Owed = models.InOrderUnordered, owed
		return next, nil
	}
	if afterSeq < 0 {
		if next.Cursor, err = s.orderedStart(ctx, workspaceID, webhookID, conversationID, workflowID); err != nil {
			return fail(err)
		}
	}
	var resumedAt *time.Time
	if err := db.Raw("SELECT resumed_at FROM webhooks WHERE id = ?", webhookID).Row().Scan(&resumedAt); err != nil {
		return fail(err)
	}
	since := w.CreatedAt
	if resumedAt != nil && resumedAt.After(since) {
		since = *resumedAt
	}
	ordered := w.Ordering == models.OrderingConversation
	for {
		var rows []struct {
			ID         string
			Seq        int64
			Type       string
			Payload    string
			ReceivedAt time.Time
			Queued     bool
		}
		err := db.Raw(`SELECT e.id, `+seq+` AS seq, e.type, e.payload, e.received_at, d.status IS NOT NULL AS queued FROM events e
			LEFT JOIN deliveries d ON d.event_id = e.id AND d.webhook_id = ?
			WHERE e.workspace_id = ? AND e.conversation_id = ? AND `+seq+` > ?
				AND (d.status IS NULL OR d.status = ? AND NOT EXISTS (SELECT 1 FROM delivery_attempts a WHERE a.delivery_id = d.id AND a.workflow_id <> ?))
			ORDER BY `+seq+` LIMIT ?`,
			webhookID, workspaceID, conversationID, next.Cursor, string(models.DeliveryPending), workflowID, orderedPage).Scan(&rows).Error
		if err != nil {
			return fail(err)
		}
		for _, r := range rows {
			next.Cursor = r.Seq
			if !r.Queued {
				// Not queued yet: owed only if its workflow will queue it.
				typ, ok := models.LookupEvent(r.Type)
				if !ordered || !ok || !w.Subscribed(typ) || r.ReceivedAt.Before(since) || !models.MatchFilters(w.Filters, []byte(r.Payload)) {
					continue
				}
			}
			next.Event, next.Found = models.OrderedEvent{EventID: r.ID, Seq: r.Seq}, true
			return next, nil
		}
		if len(rows) < orderedPage {
			if !ordered {
				// Ordering is off and nothing queued is left.
				next.End = models.InOrderUnordered
			}
			return next, nil
		}
	}
}

// orderedStart is where a new ordered delivery of a conversation starts
// its search: after the last event the webhook settled (from the start
// if none), or before the earliest event queued to it and not attempted
// yet if that comes first.
func (s *Store) orderedStart(ctx context.Context, workspaceID, webhookID, conversationID, workflowID string) (int64, error) {
	seq := seqColumn[s.dialect]
	var start struct {
		Queued  *int64
		Settled *int64
	}
	err := s.db.WithContext(ctx).Raw(`SELECT
			MIN(CASE WHEN d.status = ? AND NOT EXISTS (SELECT 1 FROM delivery_attempts a WHERE a.delivery_id = d.id AND a.workflow_id <> ?) THEN `+seq+` END) AS queued,
			MAX(CASE WHEN d.status <> ? THEN `+seq+` END) AS settled
		FROM events e JOIN deliveries d ON d.event_id = e.id AND d.webhook_id = ?
		WHERE e.workspace_id = ? AND e.conversation_id = ?`,
		string(models.DeliveryPending), workflowID, string(models.DeliveryPending), webhookID, workspaceID, conversationID).Scan(&start).Error
	if err != nil {
		return 0, err
	}
	from := int64(0)
	if start.Settled != nil {
		from = *start.Settled
	}
	if start.Queued != nil {
		from = min(from, *start.Queued-1)
	}
	return from, nil
}

// FailOwedInOrder records that the ordered delivery of a conversation to a
// webhook ended without delivering what it was owed (its workflow was
// terminated, say): every pending delivery of the conversation's events to
// the webhook becomes failed with the reason, for recover to find. It
// returns how many it changed.
func (s *Store) FailOwedInOrder(ctx context.Context, workspaceID, webhookID, conversationID, reason string) (int, error) {
	res := s.db.WithContext(ctx).Exec(`UPDATE deliveries SET status = ?, next_attempt_at = NULL, last_error = ?, updated_at = ?
		WHERE webhook_id = ? AND workspace_id = ? AND status = ? AND event_id IN
			(SELECT e.id FROM events e WHERE e.workspace_id = ? AND e.conversation_id = ?)`,
		string(models.DeliveryFailed), cleanText(reason, 1000), s.now(), webhookID, workspaceID, string(models.DeliveryPending),
		workspaceID, conversationID)
	if res.Error != nil {
		return 0, fmt.Errorf("fail ordered deliveries of %s to %s: %w", conversationID, webhookID, translate(res.Error))
	}
	return int(res.RowsAffected), nil
}

// RecoverableInOrder is RecoverableDeliveries in the order the events were
// stored, limit at a time from after the event afterSeq, each with its
// place (Seq) and, for a webhook that takes conversations in order, its
// conversation: a recover replays a conversation's events in their order.
func (s *Store) RecoverableInOrder(ctx context.Context, workspaceID, webhookID string, since, until time.Time, afterSeq int64, limit int) ([]models.Recoverable, error) {
	seq := seqColumn[s.dialect]
	var out []models.Recoverable
	err := s.db.WithContext(ctx).Raw(`SELECT d.id AS delivery_id, d.event_id, `+seq+` AS seq,
			CASE WHEN w.ordering = ? THEN COALESCE(e.conversation_id, '') ELSE '' END AS conversation_id
		FROM deliveries d
		JOIN events e ON e.workspace_id = d.workspace_id AND e.id = d.event_id
		LEFT JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.webhook_id = ? AND d.workspace_id = ? AND d.status IN ? AND d.created_at >= ? AND d.created_at < ? AND d.event_type <> ?
			AND `+seq+` > ?
		ORDER BY `+seq+` LIMIT ?`,
		models.OrderingConversation, webhookID, workspaceID, []string{string(models.DeliveryFailed), string(models.DeliverySkipped)},
		since.UTC(), until.UTC(), models.TestingConnection.Wire, afterSeq, limit).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list deliveries to recover of %s: %w", webhookID, translate(err))
	}
	return out, nil
}
