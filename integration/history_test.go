package integration_test

import (
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

var recordHistory = flag.Bool("record-history", false, "record the DeliverEvent history the workflows package replays")

// TestRecordHistory regenerates workflows/testdata/deliver_event.json and
// test_webhook.json, the histories the replay tests check the workflow
// code against:
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
