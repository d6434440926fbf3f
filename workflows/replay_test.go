package workflows_test

import (
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/tidysupport/tidyhooks/workflows"
)

// TestReplay replays recorded histories against the current workflow
// code: a change that would break running workflows fails here. The
// histories: DeliverEvent with one webhook retried then delivered and one
// answering 410; TestWebhook, one attempt answered 200; Redeliver, one
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
		{"TestWebhook", workflows.TestWebhook, "testdata/test_webhook.json"},
		{"Redeliver", workflows.Redeliver, "testdata/redeliver.json"},
		{"Recover", workflows.Recover, "testdata/recover.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			replayer := worker.NewWorkflowReplayer()
			replayer.RegisterWorkflowWithOptions(tt.workflow, workflow.RegisterOptions{Name: tt.name})
			if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, tt.history); err != nil {
				t.Fatal(err)
			}
		})
	}
}
