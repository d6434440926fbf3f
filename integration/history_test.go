package integration_test

import (
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

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
	writeHistory(t, s, id, "deliver_event.json")

	testID, _ := s.webhook(s.keyA, flaky.URL, "*")
	code, out := s.do("POST", "/v1/webhooks/"+testID+"/test", s.keyA, "")
	if code != 200 {
		t.Fatalf("test: %d %v", code, out)
	}
	writeHistory(t, s, out["eventId"].(string), "test_webhook.json")

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
	if err := s.store.FinishAttempt(ctx, models.AttemptEnd{AttemptRef: ref, FinishedAt: now, StatusCode: 500, Error: "endpoint answered 500", Scheduled: true}); err != nil {
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
