package temporalserver

import (
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
)

// The embedded server's settings as the server itself reads them: no
// version check (no call of its own to the internet), and fair dispatch
// between fairness keys on every task queue.
func TestDynamicConfig(t *testing.T) {
	c := dynamicconfig.NewCollection(dynamicConfig(), log.NewNoopLogger())
	if dynamicconfig.EnableServerVersionCheck.Get(c)() {
		t.Error("the server version check is on; an embedded server must not call out")
	}
	fair := dynamicconfig.MatchingEnableFairness.Get(c)("default", "tidyhooks-deliveries", enumspb.TASK_QUEUE_TYPE_ACTIVITY)
	if !fair.Value(nil, time.Now()) {
		t.Error("matching.enableFairness is off")
	}
}
