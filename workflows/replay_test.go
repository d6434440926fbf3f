package workflows_test

import (
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/worker"

	tidyworker "github.com/tidysupport/tidyhooks/worker"
)

// TestReplay replays recorded histories against the current workflow
// code, registered as the worker registers it: a change that would break
// running workflows, or a workflow registered under another name, fails
// here. The histories: DeliverEvent with one webhook retried then
// delivered and one answering 410, with 33 webhooks (two child
// DeliverToWebhooks workflows), and with its webhook lookup failing past
// the local retries (the database down) then answered by the activity;
// one DeliverToWebhooks of 32 webhooks; TestWebhook, one attempt answered
// 200; Redeliver, one manual attempt; Recover of one failed delivery; and
// those of DeliverEvent and DeliverToWebhooks recorded before the first
// attempt became a local activity (FirstAttemptLocal): deliveries
// mid-retry during an upgrade; and ordered delivery: a DeliverEvent that
// queued its event to a webhook taking the conversation in order, and that
// webhook's DeliverInOrder (signalled twice, its first attempt retried,
// waiting for more), recorded before ordered delivery kept its ledger;
// and since: a DeliverInOrder whose ordering was switched off mid-retry,
// delivering what it still owed unordered, and a Recover of an ordered
// webhook replaying a conversation one event after the other; and a
// DeliverEvent delivering to an unordered webhook (retried once) while it
// queues the event for an ordered one, since queueing stopped holding up
// the others (queue-beside).
// Regenerate them after an intended change with
//
//	go test ./integration -run 'TestRecordHistory|TestRecordOrderedHistory|TestRecordOrderedLedgerHistory|TestRecordQueueBesideHistory' -record-history
//
// (keeping the histories of code that may still be running).
func TestReplay(t *testing.T) {
	histories, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(histories) != 16 {
		t.Fatalf("found %d histories, want the 16 described above", len(histories))
	}
	for _, h := range histories {
		t.Run(strings.TrimSuffix(filepath.Base(h), ".json"), func(t *testing.T) {
			replayer := worker.NewWorkflowReplayer()
			tidyworker.RegisterWorkflows(replayer)
			if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, h); err != nil {
				t.Fatal(err)
			}
		})
	}
}
