package integration_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidysupport/tidyhooks/activities"
	"github.com/tidysupport/tidyhooks/emitter"
	"github.com/tidysupport/tidyhooks/models"
	tidyworker "github.com/tidysupport/tidyhooks/worker"
	"github.com/tidysupport/tidyhooks/workflows"
)

// A delivery whose workflow is ended from outside (terminated by an
// operator, say) is not lost silently: the sweep records it failed in the
// delivery log with the reason and counts it, once.
func TestTerminatedDeliveryIsRecordedFailed(t *testing.T) {
	s := newStack(t, stackOptions{schedule: []time.Duration{time.Hour}})
	r := newReceiver(t, func(int) int { return http.StatusInternalServerError })
	hook, _ := s.webhook(s.keyA, r.URL, "*")
	id := s.emit(s.keyA, `{"event": "contact.created", "payload": {}}`)
	eventually(t, "the first attempt", func() bool { return len(r.deliveries()) == 1 })
	eventually(t, "the first attempt's record", func() bool {
		d := s.deliveryOf(hook, id)
		return d != nil && d["status"] == "pending" && len(attemptsOf(d)) == 1 && attemptsOf(d)[0]["status"] == "failed"
	})
	ctx := context.Background()
	if err := s.client.TerminateWorkflow(ctx, workflows.EventWorkflowID("wrk_a", id), "", "operator cleanup"); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m := tidyworker.NewMetrics(reg)
	since := time.Now().Add(-time.Hour)
	recorded := 0
	eventually(t, "the sweep to find the terminated workflow", func() bool {
		n, err := tidyworker.SweepUnfinished(ctx, s.client, "default", s.store, m, since, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		recorded += n
		return recorded > 0
	})
	d := s.deliveryOf(hook, id)
	if d["status"] != "failed" || !strings.Contains(strings.ToLower(toString(d["lastError"])), "terminated") {
		t.Errorf("delivery = %v, want failed naming the termination", d)
	}
	if n, err := tidyworker.SweepUnfinished(ctx, s.client, "default", s.store, m, since, slog.New(slog.DiscardHandler)); err != nil || n != 0 {
		t.Errorf("a second sweep recorded %d (%v), want nothing more", n, err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counted := 0.0
	for _, f := range families {
		if f.GetName() != "tidyhooks_unfinished_deliveries_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if m.GetLabel()[0].GetValue() == "terminated" {
				counted += m.GetCounter().GetValue()
			}
		}
	}
	if counted != 1 {
		t.Errorf("tidyhooks_unfinished_deliveries_total{status=terminated} = %v, want 1", counted)
	}
}

func toString(v any) string {
	s, _ := v.(string)
	return s
}

// An event whose workflow is ended before it looked its webhooks up (no
// worker had picked it up yet) is recorded failed for the webhooks
// subscribed to it.
func TestEventEndedBeforeLookupIsRecordedFailed(t *testing.T) {
	s := newStack(t, stackOptions{})
	r := newReceiver(t, ok)
	hook, _ := s.webhook(s.keyA, r.URL, "contact.*")
	s.webhook(s.keyA, r.URL, "message.*") // not subscribed to the event
	// An emitter on a queue no worker polls: the workflow waits for its
	// first task.
	em := emitter.New(s.store, s.client, emitter.Options{TaskQueue: s.taskQueue + "-idle"})
	ctx := context.Background()
	id, err := em.Emit(ctx, models.EmitRequest{Event: "contact.created", WorkspaceID: "wrk_a", Payload: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.client.TerminateWorkflow(ctx, workflows.EventWorkflowID("wrk_a", id), "", "stuck"); err != nil {
		t.Fatal(err)
	}
	m := tidyworker.NewMetrics(prometheus.NewRegistry())
	eventually(t, "the sweep to record the event", func() bool {
		n, err := tidyworker.SweepUnfinished(ctx, s.client, "default", s.store, m, time.Now().Add(-time.Hour), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	})
	d := s.deliveryOf(hook, id)
	if d["status"] != "failed" || !strings.Contains(toString(d["lastError"]), "before it looked up its webhooks") {
		t.Errorf("delivery = %v, want failed, saying the workflow ended before the lookup", d)
	}
	if len(r.deliveries()) != 0 {
		t.Errorf("the receiver got %d requests, want none", len(r.deliveries()))
	}
}

// An ordered delivery ended from outside leaves nothing it owed unlogged:
// the sweep records every event of the conversation it still owed as
// failed, for recover to find, once.
func TestTerminatedOrderedDeliveryIsRecordedFailed(t *testing.T) {
	s := newStack(t, stackOptions{schedule: []time.Duration{time.Hour}})
	r := newReceiver(t, func(int) int { return http.StatusInternalServerError })
	hook := s.createWebhook(s.keyA, map[string]any{"url": r.URL, "events": []string{"*"}, "ordering": "conversation"})["id"].(string)
	var ids []string
	for range 3 {
		id := s.emit(s.keyA, `{"event": "conversation.updated", "payload": {"conversation": {"id": "cnv_term"}}}`)
		s.wait(id)
		ids = append(ids, id)
	}
	eventually(t, "the first attempt", func() bool { return len(r.deliveries()) == 1 })
	ctx := context.Background()
	if err := s.client.TerminateWorkflow(ctx, activities.InOrderWorkflowID(hook, "cnv_term"), "", "operator cleanup"); err != nil {
		t.Fatal(err)
	}
	m := tidyworker.NewMetrics(prometheus.NewRegistry())
	since := time.Now().Add(-time.Hour)
	recorded := 0
	eventually(t, "the sweep to find the terminated ordered delivery", func() bool {
		n, err := tidyworker.SweepUnfinished(ctx, s.client, "default", s.store, m, since, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		recorded += n
		return recorded >= len(ids)
	})
	if recorded != len(ids) {
		t.Errorf("the sweep recorded %d, want %d", recorded, len(ids))
	}
	for _, id := range ids {
		if d := s.deliveryOf(hook, id); d["status"] != "failed" || !strings.Contains(toString(d["lastError"]), "terminated") {
			t.Errorf("%s: %v, want failed naming the termination", id, d)
		}
	}
	if n, err := tidyworker.SweepUnfinished(ctx, s.client, "default", s.store, m, since, slog.New(slog.DiscardHandler)); err != nil || n != 0 {
		t.Errorf("a second sweep recorded %d (%v), want nothing more", n, err)
	}
}
