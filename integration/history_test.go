package integration_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/tidysupport/tidyhooks/activities"
	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/workflows"
)

var recordHistory = flag.Bool("record-history", false, "record the DeliverEvent history the workflows package replays")

// TestRecordHistory regenerates workflows/testdata/deliver_event.json,
// test_webhook.json, redeliver.json and recover.json, the histories the
// replay tests check the workflow code against:
//
//	go test ./integration -run TestRecordHistory -record-history
func TestRecordHistory(t *testing.T) {
	if !*recordHistory {
		t.Skip("run with -record-history to regenerate the replay history")
	}
	s := newStack(t, stackOptions{})
	flaky := newReceiver(t, func(n int) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	gone := newReceiver(t, func(int) int { return http.StatusGone })
	s.webhook(s.keyA, flaky.URL, "conversation.*")
	s.webhook(s.keyA, gone.URL, "*")
	id := s.emit(s.keyA, `{"id": "evt_replay", "event": "conversation.assigned", "payload": {"conversation": {"id": "cnv_1"}}}`)
	s.wait(id)
	writeHistory(t, s, workflows.EventWorkflowID("wrk_a", id), "deliver_event.json")

	testID, _ := s.webhook(s.keyA, flaky.URL, "*")
	code, out := s.do("POST", "/v1/webhooks/"+testID+"/test", s.keyA, "")
	if code != 200 {
		t.Fatalf("test: %d %v", code, out)
	}
	writeHistory(t, s, workflows.EventWorkflowID("wrk_a", out["eventId"].(string)), "test_webhook.json")

	// A manual retry of the flaky webhook's delivery.
	d := s.deliveryOf(testID, out["eventId"].(string))
	code, retried := s.do("POST", "/v1/deliveries/"+d["id"].(string)+"/retry", s.keyA, "")
	if code != 200 {
		t.Fatalf("retry: %d %v", code, retried)
	}
	writeHistory(t, s, attemptsOf(retried)[1]["workflowId"].(string), "redeliver.json")

	// A recover of one delivery that failed for good.
	recoverID, _ := s.webhook(s.keyA, flaky.URL, "*")
	ctx := context.Background()
	now := time.Now().UTC()
	ref, err := s.store.BeginAttempt(ctx, models.AttemptStart{WorkspaceID: "wrk_a", WebhookID: recoverID, EventID: id,
		EventType: "conversation.assigned", Trigger: models.TriggerScheduled, StartedAt: now, WorkflowID: id, RunID: "run"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.store.FinishAttempt(ctx, models.AttemptEnd{AttemptRef: ref, FinishedAt: now, StatusCode: 500, Error: "endpoint answered 500", Status: models.DeliveryFailed}); err != nil {
		t.Fatal(err)
	}
	since := now.Add(-time.Minute).Format(time.RFC3339)
	code, rec := s.do("POST", "/v1/webhooks/"+recoverID+"/recover", s.keyA, `{"since": "`+since+`"}`)
	if code != 202 {
		t.Fatalf("recover: %d %v", code, rec)
	}
	var res workflows.RecoverResult
	s.waitWorkflow(rec["workflowId"].(string), &res)
	writeHistory(t, s, rec["workflowId"].(string), "recover.json")

	// An event matching more webhooks than one workflow lists: a child
	// per group.
	s2 := newStack(t, stackOptions{maxWebhooks: 100})
	for range workflows.WebhooksPerWorkflow + 1 {
		s2.webhook(s2.keyB, flaky.URL, "contact.*")
	}
	fan := s2.emit(s2.keyB, `{"id": "evt_fanout", "event": "contact.created", "payload": {}}`)
	s2.waitIn("wrk_b", fan)
	writeHistory(t, s2, workflows.EventWorkflowID("wrk_b", fan), "deliver_event_fanout.json")
	writeHistory(t, s2, workflows.EventWorkflowID("wrk_b", fan)+".1", "deliver_to_webhooks.json")

	// An event whose webhook lookup fails past the local retries (the
	// database down): it waits in an activity the server retries.
	down := &downMatcher{failures: 5}
	s3 := newStack(t, stackOptions{wrapStore: func(st activities.Store) activities.Store { down.Store = st; return down }})
	s3.webhook(s3.keyA, flaky.URL, "*")
	waited := s3.emit(s3.keyA, `{"id": "evt_db_down", "event": "contact.created", "payload": {}}`)
	s3.wait(waited)
	writeHistory(t, s3, workflows.EventWorkflowID("wrk_a", waited), "deliver_event_outage.json")
}

// downMatcher fails its first lookups as an unreachable database does.
type downMatcher struct {
	activities.Store
	mu       sync.Mutex
	failures int
}

func (d *downMatcher) MatchEvent(ctx context.Context, workspaceID string, e models.EventType, eventID string) (models.Match, error) {
	d.mu.Lock()
	fail := d.failures > 0
	d.failures--
	d.mu.Unlock()
	if fail {
		return models.Match{}, fmt.Errorf("match webhooks: %w: connection refused", models.ErrUnavailable)
	}
	return d.Store.MatchEvent(ctx, workspaceID, e, eventID)
}

func writeHistory(t *testing.T, s *stack, id, file string) {
	t.Helper()
	ctx := context.Background()
	iter := s.client.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var h historypb.History
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&h)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "workflows", "testdata", file)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s: %d events", path, len(h.Events))
}

// TestRecordOrderedHistory records the histories of ordered delivery:
// workflows/testdata/deliver_event_ordered.json (an event queued to a
// webhook that takes its conversation in order, beside one that does not)
// and deliver_in_order.json (that webhook's DeliverInOrder, its first
// attempt failing, two events of the conversation delivered, waiting for
// more):
//
//	go test ./integration -run TestRecordOrderedHistory -record-history
func TestRecordOrderedHistory(t *testing.T) {
	if !*recordHistory {
		t.Skip("run with -record-history to regenerate the replay history")
	}
	s := newStack(t, stackOptions{})
	flaky := newReceiver(t, func(n int) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	plain := newReceiver(t, ok)
	ordered := s.createWebhook(s.keyA, map[string]any{"url": flaky.URL, "events": []string{"*"}, "ordering": "conversation"})
	s.webhook(s.keyA, plain.URL, "*")
	first := s.emit(s.keyA, `{"id": "evt_ordered_1", "event": "conversation.created", "payload": {"conversation": {"id": "cnv_ordered"}}}`)
	s.emit(s.keyA, `{"id": "evt_ordered_2", "event": "conversation.closed", "payload": {"conversation": {"id": "cnv_ordered"}}}`)
	s.wait(first)
	eventually(t, "both in order", func() bool { return len(flaky.deliveries()) == 3 })
	writeHistory(t, s, workflows.EventWorkflowID("wrk_a", first), "deliver_event_ordered.json")
	writeHistory(t, s, activities.InOrderWorkflowID(ordered["id"].(string), "cnv_ordered"), "deliver_in_order.json")
}

// TestRecordOrderedLedgerHistory records the histories of ordered
// delivery since it keeps its ledger: workflows/testdata/
// deliver_in_order_ledger.json (a DeliverInOrder whose first event is
// retried while the webhook's ordering is switched off, and which then
// delivers the two events it still owed unordered) and recover_ordered.json
// (a Recover of an ordered webhook replaying a conversation's two failed
// events one after the other):
//
//	go test ./integration -run TestRecordOrderedLedgerHistory -record-history
func TestRecordOrderedLedgerHistory(t *testing.T) {
	if !*recordHistory {
		t.Skip("run with -record-history to regenerate the replay history")
	}
	s := newStack(t, stackOptions{schedule: []time.Duration{time.Second, time.Second}})
	flaky := newReceiver(t, func(n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	ordered := s.createWebhook(s.keyA, map[string]any{"url": flaky.URL, "events": []string{"*"}, "ordering": "conversation"})["id"].(string)
	for i := range 3 {
		s.emit(s.keyA, fmt.Sprintf(`{"id": "evt_ledger_%d", "event": "conversation.updated", "payload": {"conversation": {"id": "cnv_ledger"}}}`, i))
	}
	eventually(t, "the first attempt", func() bool { return len(flaky.deliveries()) >= 1 })
	if code, out := s.do("PATCH", "/v1/webhooks/"+ordered, s.keyA, `{"ordering": "none"}`); code != http.StatusOK {
		t.Fatalf("ordering off: %d %v", code, out)
	}
	eventually(t, "all three delivered", func() bool { return len(flaky.eventIDs()) == 3 && len(flaky.deliveries()) == 5 })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inOrder := activities.InOrderWorkflowID(ordered, "cnv_ledger")
	if err := s.client.GetWorkflow(ctx, inOrder, "").Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	writeHistory(t, s, inOrder, "deliver_in_order_ledger.json")

	var failing atomic.Bool
	failing.Store(true)
	down := newReceiver(t, func(int) int {
		if failing.Load() {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	hook := s.createWebhook(s.keyA, map[string]any{"url": down.URL, "events": []string{"*"}, "ordering": "conversation"})["id"].(string)
	for i := range 2 {
		s.emit(s.keyA, fmt.Sprintf(`{"id": "evt_recover_%d", "event": "conversation.updated", "payload": {"conversation": {"id": "cnv_recover"}}}`, i))
	}
	eventually(t, "both failed", func() bool {
		_, out := s.do("POST", "/v1/webhooks/"+hook+"/recover", s.keyA, `{"since": "`+since+`", "dryRun": true}`)
		return out["count"] == 2.0
	})
	failing.Store(false)
	code, out := s.do("POST", "/v1/webhooks/"+hook+"/recover", s.keyA, `{"since": "`+since+`"}`)
	if code != http.StatusAccepted {
		t.Fatalf("recover: %d %v", code, out)
	}
	if err := s.client.GetWorkflow(ctx, out["workflowId"].(string), "").Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	writeHistory(t, s, out["workflowId"].(string), "recover_ordered.json")
}

// TestRecordQueueBesideHistory records workflows/testdata/
// deliver_event_queue_beside.json: a DeliverEvent that delivers its
// event to an unordered webhook (retried once) while it queues it for an
// ordered one, since queueing stopped holding up the other webhooks:
//
//	go test ./integration -run TestRecordQueueBesideHistory -record-history
func TestRecordQueueBesideHistory(t *testing.T) {
	if !*recordHistory {
		t.Skip("run with -record-history to regenerate the replay history")
	}
	s := newStack(t, stackOptions{eager: true})
	flaky := newReceiver(t, func(n int) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	inOrder := newReceiver(t, ok)
	s.createWebhook(s.keyA, map[string]any{"url": inOrder.URL, "events": []string{"*"}, "ordering": "conversation"})
	s.webhook(s.keyA, flaky.URL, "*")
	id := s.emit(s.keyA, `{"id": "evt_beside", "event": "conversation.created", "payload": {"conversation": {"id": "cnv_beside"}}}`)
	s.wait(id)
	eventually(t, "the ordered delivery", func() bool { return inOrder.eventIDs()[id] == 1 })
	writeHistory(t, s, workflows.EventWorkflowID("wrk_a", id), "deliver_event_queue_beside.json")
}
