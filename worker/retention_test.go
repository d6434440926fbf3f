package worker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/internal/testenv"
	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/store"
	"github.com/tidysupport/tidyhooks/worker"
)

// PruneOnce keeps calling the store's bounded batches until everything
// past retention is gone, and leaves the rest.
func TestPruneOnceRemovesEverythingPastRetention(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, testenv.SQLiteURL(t), store.Options{EncryptionKey: testenv.EncryptionKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	now := time.Now().UTC()
	retention := 24 * time.Hour
	typ, _ := models.LookupEvent("contact.created")
	old := worker.PruneBatch*2 + 10 // more than one batch
	for i := range old + 5 {
		at := now.Add(-retention - time.Hour)
		if i >= old {
			at = now.Add(-retention + time.Hour)
		}
		id := fmt.Sprintf("evt_%05d", i)
		if err := st.SaveEvents(ctx, []models.Event{{ID: id, WorkspaceID: "wrk_a", Type: typ, OccurredAt: at, ReceivedAt: at, Payload: []byte(`{}`)}}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.BeginAttempt(ctx, models.AttemptStart{WorkspaceID: "wrk_a", WebhookID: "wh_1", EventID: id, EventType: typ.Wire,
			Trigger: models.TriggerScheduled, StartedAt: at, WorkflowID: id, RunID: "run"}); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := worker.PruneOnce(ctx, st, retention, now)
	if err != nil {
		t.Fatal(err)
	}
	if removed != 2*old {
		t.Errorf("removed %d deliveries and events, want %d", removed, 2*old)
	}
	page, err := st.Deliveries(ctx, "wrk_a", "wh_1", models.DeliveryFilter{}, "", 100)
	if err != nil || len(page.Items) != 5 {
		t.Errorf("kept %d deliveries (err %v), want the 5 within retention", len(page.Items), err)
	}
	if again, err := worker.PruneOnce(ctx, st, retention, now); err != nil || again != 0 {
		t.Errorf("a second pass removed %d (err %v), want nothing", again, err)
	}
}
