package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/store"
)

// orderedWebhook is a wrk_a webhook of every event that takes
// conversations in order.
func orderedWebhook(t *testing.T, st *store.Store) models.Webhook {
	t.Helper()
	w, err := models.NewWebhook{URL: "https://example.com/ordered", Events: []string{"*"}, Ordering: models.OrderingConversation}.Validate("wrk_a", models.URLPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	created, err := st.CreateWebhook(context.Background(), w, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0)
	if err != nil {
		t.Fatal(err)
	}
	return created
}

// conversationEvents stores n events of a conversation, in order, and
// returns their ids.
func conversationEvents(t *testing.T, st *store.Store, conv string, n int) []string {
	t.Helper()
	typ, _ := models.LookupEvent("conversation.updated")
	var ids []string
	for i := range n {
		id := fmt.Sprintf("evt_%s_%d", conv, i)
		ev := models.Event{ID: id, WorkspaceID: "wrk_a", Type: typ, OccurredAt: time.Now(), ReceivedAt: time.Now(),
			Payload: fmt.Appendf(nil, `{"conversation": {"id": %q}}`, conv)}
		if err := st.SaveEvents(context.Background(), []models.Event{ev}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func nextInOrder(t *testing.T, st *store.Store, w models.Webhook, conv string, after int64) models.InOrderNext {
	t.Helper()
	next, err := st.NextInOrder(context.Background(), "wrk_a", w.ID, conv, "order-wf", after, true)
	if err != nil {
		t.Fatal(err)
	}
	return next
}

func statusOf(t *testing.T, st *store.Store, w models.Webhook, event string) models.DeliveryStatus {
	t.Helper()
	page, err := st.Deliveries(context.Background(), "wrk_a", w.ID, models.DeliveryFilter{}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range page.Items {
		if d.EventID == event {
			return d.Status
		}
	}
	return ""
}

// A new ordered delivery starts from what the webhook is owed, not from
// the event that woke it: an earlier event not queued yet goes first, a
// settled one is passed, a queued one before the last settled goes first.
func TestNextInOrderStartsFromWhatIsOwed(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		w := orderedWebhook(t, st)
		ids := conversationEvents(t, st, "cnv_1", 4)
		conversationEvents(t, st, "cnv_2", 1)

		// Only the second is queued: the first, not queued yet, comes first.
		if err := st.OweInOrder(ctx, "wrk_a", ids[1], "wf", []string{w.ID}); err != nil {
			t.Fatal(err)
		}
		if got := statusOf(t, st, w, ids[1]); got != models.DeliveryPending {
			t.Fatalf("queued event's delivery = %q, want pending", got)
		}
		next := nextInOrder(t, st, w, "cnv_1", -1)
		if !next.Found || next.Event.EventID != ids[0] {
			t.Fatalf("first owed = %+v, want %s", next, ids[0])
		}
		// Once the first two are settled, a new delivery starts after them.
		for _, id := range ids[:2] {
			ref := begin(t, st, start(w, id, models.TriggerScheduled, time.Now()))
			finish(t, st, models.AttemptEnd{AttemptRef: ref, Delivered: true, FinishedAt: time.Now(), StatusCode: 200, Status: models.DeliveryDelivered})
		}
		if next := nextInOrder(t, st, w, "cnv_1", -1); !next.Found || next.Event.EventID != ids[2] {
			t.Fatalf("after two delivered: %+v, want %s", next, ids[2])
		}
		// Searching on from the cursor finds the fourth, then nothing.
		next = nextInOrder(t, st, w, "cnv_1", -1)
		if next = nextInOrder(t, st, w, "cnv_1", next.Cursor); !next.Found || next.Event.EventID != ids[3] {
			t.Fatalf("after the third: %+v, want %s", next, ids[3])
		}
		if next = nextInOrder(t, st, w, "cnv_1", next.Cursor); next.Found || next.End != models.InOrderGoing {
			t.Fatalf("after the last: %+v, want nothing owed yet", next)
		}
		// The fourth settled, the third queued late: the third goes first.
		ref := begin(t, st, start(w, ids[3], models.TriggerScheduled, time.Now()))
		finish(t, st, models.AttemptEnd{AttemptRef: ref, FinishedAt: time.Now(), StatusCode: 500, Status: models.DeliveryFailed})
		if err := st.OweInOrder(ctx, "wrk_a", ids[2], "wf", []string{w.ID}); err != nil {
			t.Fatal(err)
		}
		if next := nextInOrder(t, st, w, "cnv_1", -1); !next.Found || next.Event.EventID != ids[2] {
			t.Fatalf("a queued event before the last settled: %+v, want %s", next, ids[2])
		}
	})
}

// Paused, what was queued is logged skipped (also what was queued after
// the pause); ordering off, what was queued is handed back to deliver
// unordered; deleted, the ordered delivery ends.
func TestNextInOrderWhenTheWebhookStopsTakingItInOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		w := orderedWebhook(t, st)
		ids := conversationEvents(t, st, "cnv_1", 3)
		if err := st.OweInOrder(ctx, "wrk_a", ids[0], "wf", []string{w.ID}); err != nil {
			t.Fatal(err)
		}
		setStatus := func(s models.WebhookStatus) {
			t.Helper()
			if _, err := st.UpdateWebhook(ctx, "wrk_a", w.ID, func(x *models.Webhook) error { x.Status = s; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		setStatus(models.WebhookPaused)
		if got := statusOf(t, st, w, ids[0]); got != models.DeliverySkipped {
			t.Fatalf("queued before the pause: %q, want skipped", got)
		}
		// Queued after the pause: logged skipped at once.
		if err := st.OweInOrder(ctx, "wrk_a", ids[1], "wf", []string{w.ID}); err != nil {
			t.Fatal(err)
		}
		if got := statusOf(t, st, w, ids[1]); got != models.DeliverySkipped {
			t.Fatalf("queued after the pause: %q, want skipped", got)
		}
		if next := nextInOrder(t, st, w, "cnv_1", -1); next.End != models.InOrderPaused {
			t.Fatalf("paused: %+v", next)
		}
		recoverable, err := st.RecoverableInOrder(ctx, "wrk_a", w.ID, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), 0, 10)
		if err != nil || len(recoverable) != 2 || recoverable[0].EventID != ids[0] || recoverable[1].EventID != ids[1] || recoverable[0].ConversationID != "cnv_1" {
			t.Fatalf("recoverable = %+v, %v; want both skipped, in order, with their conversation", recoverable, err)
		}

		// Resumed: an event stored before the resume and never queued is
		// not owed (a paused webhook is matched to nothing); queued, it is.
		setStatus(models.WebhookActive)
		if next := nextInOrder(t, st, w, "cnv_1", -1); next.Found {
			t.Fatalf("after resuming: %+v, want nothing owed", next)
		}
		if err := st.OweInOrder(ctx, "wrk_a", ids[2], "wf", []string{w.ID}); err != nil {
			t.Fatal(err)
		}
		if next := nextInOrder(t, st, w, "cnv_1", -1); !next.Found || next.Event.EventID != ids[2] {
			t.Fatalf("queued after resuming: %+v, want %s", next, ids[2])
		}

		// Ordering off: what is queued is owed unordered.
		if _, err := st.UpdateWebhook(ctx, "wrk_a", w.ID, func(x *models.Webhook) error { x.Ordering = models.OrderingNone; return nil }); err != nil {
			t.Fatal(err)
		}
		next := nextInOrder(t, st, w, "cnv_1", -1)
		if next.End != models.InOrderUnordered || len(next.Owed) != 1 || next.Owed[0].EventID != ids[2] {
			t.Fatalf("ordering off: %+v, want %s owed unordered", next, ids[2])
		}
		// A delivery from before that could not deliver unordered gets it
		// in order, then ends.
		old, err := st.NextInOrder(ctx, "wrk_a", w.ID, "cnv_1", "order-wf", 0, false)
		if err != nil || !old.Found || old.Event.EventID != ids[2] {
			t.Fatalf("ordering off, an older delivery: %+v, %v", old, err)
		}
		if old, err = st.NextInOrder(ctx, "wrk_a", w.ID, "cnv_1", "order-wf", old.Cursor, false); err != nil || old.End != models.InOrderUnordered {
			t.Fatalf("ordering off, an older delivery after the last: %+v, %v", old, err)
		}

		// A lost ordered delivery's owed events are failed, for recover.
		if n, err := st.FailOwedInOrder(ctx, "wrk_a", w.ID, "cnv_1", "gone"); err != nil || n != 1 {
			t.Fatalf("FailOwedInOrder = %d, %v; want 1", n, err)
		}
		if got := statusOf(t, st, w, ids[2]); got != models.DeliveryFailed {
			t.Fatalf("after FailOwedInOrder: %q", got)
		}

		if err := st.DeleteWebhook(ctx, "wrk_a", w.ID); err != nil {
			t.Fatal(err)
		}
		if next := nextInOrder(t, st, w, "cnv_1", -1); next.End != models.InOrderDeleted {
			t.Fatalf("deleted: %+v", next)
		}
	})
}

// A queued event whose attempt by the ordered delivery itself was lost
// with its worker (left sending) is still owed, before the next; one
// another workflow is attempting is not the ordered delivery's to send.
func TestNextInOrderOwesAnAttemptLostWithItsWorker(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		w := orderedWebhook(t, st)
		ids := conversationEvents(t, st, "cnv_1", 2)
		for _, id := range ids {
			if err := st.OweInOrder(context.Background(), "wrk_a", id, "wf", []string{w.ID}); err != nil {
				t.Fatal(err)
			}
		}
		lost := start(w, ids[0], models.TriggerScheduled, time.Now())
		lost.WorkflowID = "order-wf"
		lost.Retry = true
		begin(t, st, lost)
		if next := nextInOrder(t, st, w, "cnv_1", -1); !next.Found || next.Event.EventID != ids[0] {
			t.Fatalf("after a lost attempt of its own: %+v, want %s again", next, ids[0])
		}
		other := start(w, ids[0], models.TriggerScheduled, time.Now())
		other.WorkflowID = "evt_other@wrk_a"
		other.Retry = true
		begin(t, st, other)
		if next := nextInOrder(t, st, w, "cnv_1", -1); !next.Found || next.Event.EventID != ids[1] {
			t.Fatalf("while another workflow attempts the first: %+v, want %s", next, ids[1])
		}
	})
}

// An event processed late is not matched to a webhook created after it
// was stored: which webhooks match is decided when the event is
// processed, among those that existed when it was emitted.
func TestMatchLeavesOutWebhooksCreatedAfterTheEvent(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		before := newWebhook(t, st, "wrk_a", "*")
		ids := conversationEvents(t, st, "cnv_1", 1)
		time.Sleep(2 * time.Millisecond) // the next webhook is created strictly later
		after := newWebhook(t, st, "wrk_a", "*")
		typ, _ := models.LookupEvent("conversation.updated")
		m, err := st.MatchEvent(context.Background(), "wrk_a", typ, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(m.WebhookIDs) != 1 || m.WebhookIDs[0] != before.ID {
			t.Errorf("matched %v, want only %s (not %s, created after the event)", m.WebhookIDs, before.ID, after.ID)
		}
	})
}
