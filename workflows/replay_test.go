package workflows_test

import (
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/tidysupport/tidyhooks/workflows"
)

// TestReplayDeliverEvent replays a recorded DeliverEvent history (one
// webhook retried then delivered, one answering 410) against the current
// workflow code: a change that would break running workflows fails here.
// Regenerate the history after an intended change with
//
//	go test ./integration -run TestRecordHistory -record-history
func TestReplayDeliverEvent(t *testing.T) {
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflowWithOptions(workflows.DeliverEvent, workflow.RegisterOptions{Name: "DeliverEvent"})
	if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, "testdata/deliver_event.json"); err != nil {
		t.Fatal(err)
	}
}
