package workflows_test

import (
	"strings"
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/tidysupport/tidyhooks/workflows"
)

// TestReplay replays recorded histories against the current workflow
// code: a change that would break running workflows fails here. The
// histories: DeliverEvent with one webhook retried then delivered and one
// answering 410, with 33 webhooks (two child DeliverToWebhooks workflows),
// and with its webhook lookup failing past the local retries (the
// database down) then answered by the activity; one DeliverToWebhooks of
// 32 webhooks; TestWebhook, one attempt answered 200; Redeliver, one
// manual attempt; Recover of one failed delivery. Regenerate them after an
// intended change with
//
//	go test ./integration -run TestRecordHistory -record-history
func TestReplay(t *testing.T) {
	tests := []struct {
		name     string
		workflow any
		history  string
	}{
		{"DeliverEvent", workflows.DeliverEvent, "testdata/deliver_event.json"},
		{"DeliverEvent", workflows.DeliverEvent, "testdata/deliver_event_fanout.json"},
		{"DeliverEvent", workflows.DeliverEvent, "testdata/deliver_event_outage.json"},
		{"DeliverToWebhooks", workflows.DeliverToWebhooks, "testdata/deliver_to_webhooks.json"},
		// Recorded before the first attempt became a local activity
		// (FirstAttemptLocal): deliveries mid-retry during an upgrade.
		{"DeliverEvent", workflows.DeliverEvent, "testdata/deliver_event_before_fast_path.json"},
		{"DeliverEvent", workflows.DeliverEvent, "testdata/deliver_event_fanout_before_fast_path.json"},
		{"DeliverEvent", workflows.DeliverEvent, "testdata/deliver_event_outage_before_fast_path.json"},
		{"DeliverToWebhooks", workflows.DeliverToWebhooks, "testdata/deliver_to_webhooks_before_fast_path.json"},
		{"TestWebhook", workflows.TestWebhook, "testdata/test_webhook.json"},
		{"Redeliver", workflows.Redeliver, "testdata/redeliver.json"},
		{"Recover", workflows.Recover, "testdata/recover.json"},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(strings.TrimPrefix(tt.history, "testdata/"), ".json"), func(t *testing.T) {
			replayer := worker.NewWorkflowReplayer()
			replayer.RegisterWorkflowWithOptions(tt.workflow, workflow.RegisterOptions{Name: tt.name})
			if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, tt.history); err != nil {
				t.Fatal(err)
			}
		})
	}
}
