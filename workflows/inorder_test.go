package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/tidysupport/tidyhooks/activities"
	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/netguard"
	"github.com/tidysupport/tidyhooks/workflows"
)

// inOrder is a harness with DeliverInOrder registered, an ordered webhook
// at url and n events of conversation cnv_1 stored; it returns the
// webhook and the events, in order.
func inOrder(t *testing.T, h *harness, url string, n int) (models.Webhook, []activities.InOrderEvent) {
	t.Helper()
	ctx := context.Background()
	h.env.RegisterWorkflow(workflows.DeliverInOrder)
	w, err := models.NewWebhook{URL: url, Events: []string{"*"}, Ordering: models.OrderingConversation}.Validate("wrk_a", models.URLPolicy{AllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if w, err = h.store.CreateWebhook(ctx, w, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0); err != nil {
		t.Fatal(err)
	}
	typ, _ := models.LookupEvent("conversation.updated")
	var evs []activities.InOrderEvent
	for i := range n {
		id := fmt.Sprintf("evt_o%d", i)
		ev := models.Event{ID: id, WorkspaceID: "wrk_a", Type: typ, OccurredAt: time.Now(), ReceivedAt: time.Now(), Payload: []byte(`{"conversation": {"id": "cnv_1"}}`)}
		if err := h.store.SaveEvents(ctx, []models.Event{ev}); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, activities.InOrderEvent{EventID: id, Seq: int64(i + 1)})
	}
	return w, evs
}

func (h *harness) owe(t *testing.T, w models.Webhook, evs ...activities.InOrderEvent) {
	t.Helper()
	for _, ev := range evs {
		if err := h.store.OweInOrder(context.Background(), "wrk_a", ev.EventID, "wf", []string{w.ID}); err != nil {
			t.Fatal(err)
		}
	}
}

func ids(evs []activities.InOrderEvent) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.EventID)
	}
	return out
}

// Events queued out of order, signalled late, twice and while another is
// being delivered, are delivered once each, in the order they were
// stored; the workflow ends once idle.
func TestDeliverInOrderLateDuplicateAndConcurrentSignals(t *testing.T) {
	h := newHarness(t, activities.Config{Retry: models.RetryPolicy{Schedule: []time.Duration{time.Second}}})
	r := newReceiver(t, status(http.StatusOK))
	w, evs := inOrder(t, h, r.URL, 4)
	// The third is queued first: its workflow ran before the others'.
	h.owe(t, w, evs[2])
	h.env.RegisterDelayedCallback(func() {
		h.owe(t, w, evs[0], evs[1])
		h.env.SignalWorkflow(activities.InOrderSignal, evs[0])
		h.env.SignalWorkflow(activities.InOrderSignal, evs[0])
		h.env.SignalWorkflow(activities.InOrderSignal, evs[1])
	}, time.Millisecond)
	h.env.RegisterDelayedCallback(func() {
		h.owe(t, w, evs[3])
		h.env.SignalWorkflow(activities.InOrderSignal, evs[3])
		h.env.SignalWorkflow(activities.InOrderSignal, evs[1]) // long delivered
	}, 30*time.Second)
	h.env.ExecuteWorkflow(workflows.DeliverInOrder, activities.InOrderInput{WorkspaceID: "wrk_a", WebhookID: w.ID, ConversationID: "cnv_1", AfterSeq: -1})
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if got, want := r.ids, ids(evs); !slices.Equal(got, want) {
		t.Errorf("arrived %v, want %v once each", got, want)
	}
}

// A run continues as new after InOrderPerRun deliveries, and the next
// run (started afresh, as a new wake-up would) goes on from the last
// event settled.
func TestDeliverInOrderContinuesAsNew(t *testing.T) {
	h := newHarness(t, activities.Config{})
	r := newReceiver(t, status(http.StatusOK))
	w, evs := inOrder(t, h, r.URL, workflows.InOrderPerRun+2)
	h.owe(t, w, evs...)
	in := activities.InOrderInput{WorkspaceID: "wrk_a", WebhookID: w.ID, ConversationID: "cnv_1", AfterSeq: -1}
	h.env.ExecuteWorkflow(workflows.DeliverInOrder, in)
	var can *workflow.ContinueAsNewError
	if err := h.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("after %d events: %v, want a continue-as-new", workflows.InOrderPerRun, err)
	}
	if len(r.ids) != workflows.InOrderPerRun {
		t.Fatalf("%d delivered in the first run, want %d", len(r.ids), workflows.InOrderPerRun)
	}
	var suite testsuite.WorkflowTestSuite
	next := suite.NewTestWorkflowEnvironment()
	next.RegisterWorkflow(workflows.DeliverInOrder)
	next.RegisterActivity(activities.New(h.store, activities.Config{Network: netguard.Policy{AllowLoopback: true}}))
	next.ExecuteWorkflow(workflows.DeliverInOrder, in)
	if err := next.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if got, want := r.ids, ids(evs); !slices.Equal(got, want) {
		t.Errorf("arrived %v,\nwant %v", got, want)
	}
}

// The webhook paused while its first event is retried: that event and
// those queued behind it are logged skipped, nothing more is sent, and
// the workflow ends.
func TestDeliverInOrderPausedMidStream(t *testing.T) {
	h := newHarness(t, activities.Config{Retry: models.RetryPolicy{Schedule: []time.Duration{5 * time.Second, 5 * time.Second}}})
	var w models.Webhook
	r := newReceiver(t, func(n int32, rw http.ResponseWriter) {
		if n == 1 {
			if _, err := h.store.UpdateWebhook(context.Background(), "wrk_a", w.ID, func(x *models.Webhook) error { x.Status = models.WebhookPaused; return nil }); err != nil {
				t.Error(err)
			}
		}
		rw.WriteHeader(http.StatusInternalServerError)
	})
	w, evs := inOrder(t, h, r.URL, 3)
	h.owe(t, w, evs...)
	h.env.ExecuteWorkflow(workflows.DeliverInOrder, activities.InOrderInput{WorkspaceID: "wrk_a", WebhookID: w.ID, ConversationID: "cnv_1", AfterSeq: -1})
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if r.hits.Load() != 1 {
		t.Errorf("%d requests, want only the first", r.hits.Load())
	}
	page, err := h.store.Deliveries(context.Background(), "wrk_a", w.ID, models.DeliveryFilter{}, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 3 {
		t.Fatalf("%d deliveries logged, want 3", len(page.Items))
	}
	for _, d := range page.Items {
		if d.Status != models.DeliverySkipped {
			t.Errorf("%s: %s, want skipped", d.EventID, d.Status)
		}
	}
}
