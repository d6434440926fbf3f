package activities

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/tidysupport/tidyhooks/models"
)

// levels records the level of every log record by message.
type levels struct {
	mu  sync.Mutex
	got map[string][]slog.Level
}

func (l *levels) Enabled(context.Context, slog.Level) bool { return true }
func (l *levels) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got[r.Message] = append(l.got[r.Message], r.Level)
	return nil
}
func (l *levels) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *levels) WithGroup(string) slog.Handler      { return l }

// Flow control is not a failure: an attempt waiting its turn (a webhook
// at its bound in flight, a throttle, the database not answering while it
// retries) is logged by the SDK at DEBUG, not as an "Activity error." at
// ERROR that paged operators for deliveries that then succeed; so is a
// receiver's failure, which Deliver logs itself (logFailure). What the
// SDK still logs at ERROR is an error of ours.
func mustFail(_ DeliverResult, err error) error { return err }

func TestFlowControlIsNotLoggedAsAnError(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want slog.Level
	}{
		{"busy", webhookBusy(1, false, 0.5), slog.LevelDebug},
		{"store unavailable", storeUnavailable(1, errors.New("connection refused")), slog.LevelDebug},
		{"a failed attempt", mustFail(result(1, sendResult{status: 500, err: errors.New("500 Internal Server Error")}, 0, models.Verdict{Wait: time.Second}, 1, nil)), slog.LevelDebug},
		{"a delivery given up", mustFail(result(9, sendResult{status: 500, err: errors.New("500 Internal Server Error")}, 0, models.Verdict{End: models.EndExhausted}, 9, nil)), slog.LevelDebug},
		{"a bug", errors.New("nil pointer dereference"), slog.LevelError},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &levels{got: map[string][]slog.Level{}}
			var suite testsuite.WorkflowTestSuite
			suite.SetLogger(sdklog.NewStructuredLogger(slog.New(rec)))
			env := suite.NewTestActivityEnvironment()
			attempt := func(context.Context) error { return tt.err }
			env.RegisterActivityWithOptions(attempt, activity.RegisterOptions{Name: "Attempt"})
			if _, err := env.ExecuteActivity("Attempt"); err == nil {
				t.Fatal("the activity did not fail")
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if got := rec.got["Activity error."]; len(got) != 1 || got[0] != tt.want {
				t.Errorf("logged at %v, want %v", got, tt.want)
			}
		})
	}
}
