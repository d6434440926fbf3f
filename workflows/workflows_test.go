package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/tidysupport/tidyhooks/activities"
	"github.com/tidysupport/tidyhooks/internal/testenv"
	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/netguard"
	"github.com/tidysupport/tidyhooks/store"
	"github.com/tidysupport/tidyhooks/workflows"
)

// receiver is a real HTTP endpoint whose answers a test scripts.
type receiver struct {
	*httptest.Server
	hits atomic.Int32
	mu   sync.Mutex
	ids  []string
}

func newReceiver(t *testing.T, answer func(n int32, w http.ResponseWriter)) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := r.hits.Add(1)
		r.mu.Lock()
		r.ids = append(r.ids, req.Header.Get("webhook-id"))
		r.mu.Unlock()
		answer(n, w)
	}))
	t.Cleanup(r.Close)
	return r
}

func status(code int) func(int32, http.ResponseWriter) {
	return func(_ int32, w http.ResponseWriter) { w.WriteHeader(code) }
}

// harness is a test workflow environment whose activities use a real
// SQLite store and real HTTP.
type harness struct {
	env      *testsuite.TestWorkflowEnvironment
	store    *store.Store
	starts   map[string][]time.Time // attempt start times (test clock) per webhook
	kinds    map[string][]string    // "local" or "activity" per attempt, per webhook
	local    bool                   // first attempts as local activities (the fast path)
	mu       sync.Mutex
	schedule []time.Duration
}

func newHarness(t *testing.T, cfg activities.Config) *harness {
	t.Helper()
	st, err := store.Open(context.Background(), testenv.SQLiteURL(t), store.Options{EncryptionKey: testenv.EncryptionKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	cfg.Network = netguard.Policy{AllowLoopback: true}
	env.RegisterWorkflow(workflows.DeliverEvent)
	env.RegisterWorkflow(workflows.Recover)
	env.RegisterActivity(activities.New(st, cfg))
	h := &harness{env: env, store: st, starts: map[string][]time.Time{}, kinds: map[string][]string{}, schedule: cfg.Retry.Schedule}
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		var in activities.DeliverInput
		if info.ActivityType.Name != "Deliver" || args.Get(&in) != nil {
			return
		}
		h.started(in.WebhookID, "activity")
	})
	// The first attempt is a local activity.
	env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, args []any) {
		if in, ok := args[0].(activities.DeliverInput); ok && info.ActivityType.Name == "Deliver" {
			h.started(in.WebhookID, "local")
		}
	})
	return h
}

func (h *harness) webhook(t *testing.T, url string) models.Webhook {
	t.Helper()
	w, err := models.NewWebhook{URL: url, Events: []string{"conversation.*"}}.Validate("wrk_a", models.URLPolicy{AllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	created, err := h.store.CreateWebhook(context.Background(), w, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0)
	if err != nil {
		t.Fatal(err)
	}
	return created
}

func (h *harness) run(t *testing.T) workflows.DeliverEventResult {
	t.Helper()
	typ, _ := models.LookupEvent("conversation.created")
	ev := models.Event{ID: "evt_wf", WorkspaceID: "wrk_a", Type: typ, OccurredAt: time.Now(), ReceivedAt: time.Now(), Payload: []byte(`{"x":1}`)}
	if err := h.store.SaveEvents(context.Background(), []models.Event{ev}); err != nil {
		t.Fatal(err)
	}
	h.env.ExecuteWorkflow(workflows.DeliverEvent, workflows.DeliverEventInput{EventID: ev.ID, WorkspaceID: "wrk_a", EventType: typ.Name, FirstAttemptLocal: h.local})
	if !h.env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow failed: %v", err)
	}
	var res workflows.DeliverEventResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

// started notes an attempt at the webhook at the test clock's now, and
// how it ran ("local" or "activity").
func (h *harness) started(webhookID, kind string) {
	h.mu.Lock()
	h.starts[webhookID] = append(h.starts[webhookID], h.env.Now())
	h.kinds[webhookID] = append(h.kinds[webhookID], kind)
	h.mu.Unlock()
}

// ran says how each attempt at the webhook ran, in order.
func (h *harness) ran(webhookID string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.kinds[webhookID], " ")
}

func (h *harness) gaps(id string) []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []time.Duration
	s := h.starts[id]
	for i := 1; i < len(s); i++ {
		out = append(out, s[i].Sub(s[i-1]))
	}
	return out
}

func TestScheduleAndJitterBounds(t *testing.T) { bothPaths(t, testScheduleAndJitterBounds) }

func testScheduleAndJitterBounds(t *testing.T, local bool) {
	schedule := []time.Duration{10 * time.Second, time.Minute, 30 * time.Minute, 5 * time.Hour}
	h := newHarness(t, activities.Config{Retry: models.RetryPolicy{Schedule: schedule}})
	h.local = local
	rcv := newReceiver(t, status(http.StatusInternalServerError))
	w := h.webhook(t, rcv.URL)

	res := h.run(t)
	if len(res.Webhooks) != 1 {
		t.Fatalf("result = %+v, want one webhook", res)
	}
	got := res.Webhooks[0]
	if got.Outcome != workflows.OutcomeFailed || got.Attempts != int32(len(schedule)+1) {
		t.Errorf("outcome = %+v, want failed after %d attempts", got, len(schedule)+1)
	}
	if n := rcv.hits.Load(); n != int32(len(schedule)+1) {
		t.Errorf("receiver got %d attempts, want %d", n, len(schedule)+1)
	}
	gaps := h.gaps(w.ID)
	if len(gaps) != len(schedule) {
		t.Fatalf("gaps = %v, want %d", gaps, len(schedule))
	}
	for i, g := range gaps {
		lo, hi := time.Duration(float64(schedule[i])*0.8), time.Duration(float64(schedule[i])*1.2)
		if g < lo || g > hi {
			t.Errorf("wait before attempt %d = %s, want within [%s, %s]", i+2, g, lo, hi)
		}
	}
}

// bothPaths runs a delivery test with the first attempt as an activity
// (workflows started before the fast path) and as a local activity.
func bothPaths(t *testing.T, test func(t *testing.T, local bool)) {
	t.Run("activities", func(t *testing.T) { test(t, false) })
	t.Run("fast path", func(t *testing.T) { test(t, true) })
}

func TestRetryAfterIsHonouredAndCapped(t *testing.T) { bothPaths(t, testRetryAfterIsHonouredAndCapped) }

func testRetryAfterIsHonouredAndCapped(t *testing.T, local bool) {
	h := newHarness(t, activities.Config{Retry: models.RetryPolicy{Schedule: []time.Duration{time.Second, time.Second, time.Second}, RetryAfterCap: 30 * time.Second}})
	h.local = local
	rcv := newReceiver(t, func(n int32, w http.ResponseWriter) {
		switch n {
		case 1:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			w.Header().Set("Retry-After", "86400")
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	w := h.webhook(t, rcv.URL)
	res := h.run(t)
	if got := res.Webhooks[0]; got.Outcome != workflows.OutcomeDelivered || got.Attempts != 3 {
		t.Errorf("outcome = %+v, want delivered on attempt 3", got)
	}
	gaps := h.gaps(w.ID)
	if len(gaps) != 2 || gaps[0] != 7*time.Second || gaps[1] != 30*time.Second {
		t.Errorf("waits = %v, want [7s 30s] (Retry-After, then capped)", gaps)
	}
}

func TestGonePausesAndStops(t *testing.T) { bothPaths(t, testGonePausesAndStops) }

func testGonePausesAndStops(t *testing.T, local bool) {
	h := newHarness(t, activities.Config{Retry: models.RetryPolicy{Schedule: []time.Duration{time.Second, time.Second}}})
	h.local = local
	rcv := newReceiver(t, status(http.StatusGone))
	w := h.webhook(t, rcv.URL)
	res := h.run(t)
	if got := res.Webhooks[0]; got.Outcome != workflows.OutcomePaused || got.Attempts != 1 {
		t.Errorf("outcome = %+v, want paused after 1 attempt", got)
	}
	if n := rcv.hits.Load(); n != 1 {
		t.Errorf("receiver got %d attempts, want 1", n)
	}
	got, err := h.store.Webhook(context.Background(), "wrk_a", w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != models.WebhookPaused || got.PausedReason == "" {
		t.Errorf("webhook status %s reason %q, want PAUSED with a reason", got.Status, got.PausedReason)
	}
}

func TestPartialSuccessAcrossWebhooks(t *testing.T) { bothPaths(t, testPartialSuccessAcrossWebhooks) }

func testPartialSuccessAcrossWebhooks(t *testing.T, local bool) {
	h := newHarness(t, activities.Config{Retry: models.RetryPolicy{Schedule: []time.Duration{time.Second, 2 * time.Second}}})
	h.local = local
	ok := newReceiver(t, status(http.StatusOK))
	failing := newReceiver(t, status(http.StatusBadGateway))
	flaky := newReceiver(t, func(n int32, w http.ResponseWriter) {
		if n == 1 {
			w.WriteHeader(http.StatusFound) // a redirect is a failure
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	gone := newReceiver(t, status(http.StatusGone))
	hooks := []models.Webhook{h.webhook(t, ok.URL), h.webhook(t, failing.URL), h.webhook(t, flaky.URL), h.webhook(t, gone.URL)}

	res := h.run(t)
	want := map[string]struct {
		outcome  string
		attempts int32
	}{
		hooks[0].ID: {workflows.OutcomeDelivered, 1},
		hooks[1].ID: {workflows.OutcomeFailed, 3},
		hooks[2].ID: {workflows.OutcomeDelivered, 2},
		hooks[3].ID: {workflows.OutcomePaused, 1},
	}
	if len(res.Webhooks) != len(want) {
		t.Fatalf("result has %d webhooks, want %d: %+v", len(res.Webhooks), len(want), res)
	}
	for _, o := range res.Webhooks {
		if w := want[o.WebhookID]; o.Outcome != w.outcome || o.Attempts != w.attempts {
			t.Errorf("webhook %s: %s after %d attempts, want %s after %d (%s)", o.WebhookID, o.Outcome, o.Attempts, w.outcome, w.attempts, o.Error)
		}
	}
	for _, r := range []*receiver{ok, failing, flaky, gone} {
		r.mu.Lock()
		for _, id := range r.ids {
			if id != "evt_wf" {
				t.Errorf("webhook-id = %q, want evt_wf on every attempt", id)
			}
		}
		r.mu.Unlock()
	}
}

// The first attempt at each webhook is a local activity; only a failure
// moves the delivery onto activities, with the schedule's wait between.
func TestFastPathAndDurablePath(t *testing.T) {
	schedule := []time.Duration{10 * time.Second, time.Minute, time.Minute}
	h := newHarness(t, activities.Config{Retry: models.RetryPolicy{Schedule: schedule}})
	h.local = true
	var paused atomic.Bool
	fine := newReceiver(t, status(http.StatusOK))
	flaky := newReceiver(t, func(n int32, w http.ResponseWriter) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	goneLater := newReceiver(t, func(n int32, w http.ResponseWriter) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusGone)
	})
	pausing := newReceiver(t, func(n int32, w http.ResponseWriter) {
		paused.Store(true) // the customer pauses the webhook after the first attempt
		w.WriteHeader(http.StatusInternalServerError)
	})
	hooks := map[string]models.Webhook{
		"fine": h.webhook(t, fine.URL), "flaky": h.webhook(t, flaky.URL), "gone later": h.webhook(t, goneLater.URL),
		"paused between": h.webhook(t, pausing.URL), "blocked": h.webhook(t, "http://10.255.255.1/hook"),
	}
	h.env.SetOnLocalActivityCompletedListener(func(*activity.Info, converter.EncodedValue, error) {
		if paused.Load() {
			if _, err := h.store.UpdateWebhook(context.Background(), "wrk_a", hooks["paused between"].ID, func(w *models.Webhook) error {
				w.Status = models.WebhookPaused
				return nil
			}); err != nil {
				t.Error(err)
			}
		}
	})
	res := h.run(t)
	got := map[string]workflows.WebhookOutcome{}
	for _, o := range res.Webhooks {
		got[o.WebhookID] = o
	}
	tests := []struct {
		name     string
		outcome  string
		attempts int32
		ran      string
		hits     int32
		rcv      *receiver
	}{
		{"fine", workflows.OutcomeDelivered, 1, "local", 1, fine},
		{"flaky", workflows.OutcomeDelivered, 2, "local activity", 2, flaky},
		{"gone later", workflows.OutcomePaused, 2, "local activity", 2, goneLater},
		{"paused between", workflows.OutcomeSkipped, 2, "local activity", 1, pausing},
		{"blocked", workflows.OutcomeFailed, 1, "local", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := hooks[tt.name]
			o := got[w.ID]
			if o.Outcome != tt.outcome || o.Attempts != tt.attempts {
				t.Errorf("%s after %d attempts (%s), want %s after %d", o.Outcome, o.Attempts, o.Error, tt.outcome, tt.attempts)
			}
			if ran := h.ran(w.ID); ran != tt.ran {
				t.Errorf("attempts ran as %q, want %q", ran, tt.ran)
			}
			if tt.rcv != nil && tt.rcv.hits.Load() != tt.hits {
				t.Errorf("receiver got %d requests, want %d", tt.rcv.hits.Load(), tt.hits)
			}
			if gaps := h.gaps(w.ID); len(gaps) > 0 && (gaps[0] < 8*time.Second || gaps[0] > 12*time.Second) {
				t.Errorf("wait before the durable attempt = %s, want the schedule's first, 10s ±20%%", gaps[0])
			}
		})
	}
}

func TestNoMatchingWebhooks(t *testing.T) {
	h := newHarness(t, activities.Config{})
	res := h.run(t)
	if len(res.Webhooks) != 0 {
		t.Errorf("result = %+v, want no webhooks", res)
	}
}

// Recover goes through every failed delivery in the window a page at a
// time, once each, and continues as new before its history grows long.
func TestRecoverPagesAndContinuesAsNew(t *testing.T) {
	h := newHarness(t, activities.Config{Retry: models.RetryPolicy{Schedule: []time.Duration{time.Second}}})
	r := newReceiver(t, status(http.StatusOK))
	w := h.webhook(t, r.URL)
	ctx := context.Background()
	typ, _ := models.LookupEvent("conversation.created")
	t0 := time.Now().UTC().Add(-time.Hour)
	perRun := workflows.RecoverPageSize * workflows.RecoverPagesPerRun
	failed := perRun + 7
	for i := range failed + 3 {
		id := fmt.Sprintf("evt_%04d", i)
		at := t0.Add(time.Duration(i) * time.Millisecond)
		if err := h.store.SaveEvents(ctx, []models.Event{{ID: id, WorkspaceID: "wrk_a", Type: typ, OccurredAt: at, ReceivedAt: at, Payload: []byte(`{}`)}}); err != nil {
			t.Fatal(err)
		}
		ref, err := h.store.BeginAttempt(ctx, models.AttemptStart{WorkspaceID: "wrk_a", WebhookID: w.ID, EventID: id, EventType: typ.Wire,
			Trigger: models.TriggerScheduled, StartedAt: at, WorkflowID: id, RunID: "run"})
		if err != nil {
			t.Fatal(err)
		}
		// The last three were delivered: recover leaves them alone.
		end := models.AttemptEnd{AttemptRef: ref, Delivered: i >= failed, FinishedAt: at, StatusCode: 500, Error: "500", Status: models.DeliveryFailed}
		if end.Delivered {
			end.Status = models.DeliveryDelivered
		}
		if err := h.store.FinishAttempt(ctx, end); err != nil {
			t.Fatal(err)
		}
	}
	// Started as before inputs named the workspace: the first run reads it
	// from the search attribute the recover was started with.
	in := workflows.RecoverInput{WebhookID: w.ID, Since: t0.Add(-time.Minute), Until: time.Now().UTC()}
	if err := h.env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(workflows.WorkspaceAttr.ValueSet("wrk_a"))); err != nil {
		t.Fatal(err)
	}
	h.env.ExecuteWorkflow(workflows.Recover, in)
	var cont *workflow.ContinueAsNewError
	if err := h.env.GetWorkflowError(); !errors.As(err, &cont) {
		t.Fatalf("first run ended with %v, want continue-as-new", err)
	}
	var next workflows.RecoverInput
	if err := converter.GetDefaultDataConverter().FromPayloads(cont.Input, &next); err != nil {
		t.Fatal(err)
	}
	if next.Attempted != perRun || next.Delivered != perRun || next.After == "" || next.WorkspaceID != "wrk_a" {
		t.Fatalf("carried over %+v", next)
	}

	// The next run, as Temporal would start it, on the same database.
	var suite testsuite.WorkflowTestSuite
	second := suite.NewTestWorkflowEnvironment()
	second.RegisterWorkflow(workflows.Recover)
	second.RegisterActivity(activities.New(h.store, activities.Config{Network: netguard.Policy{AllowLoopback: true}}))
	second.ExecuteWorkflow(workflows.Recover, next)
	var res workflows.RecoverResult
	if err := second.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res != (workflows.RecoverResult{Attempted: failed, Delivered: failed}) {
		t.Errorf("result = %+v, want %d attempted and delivered", res, failed)
	}
	seen := map[string]int{}
	r.mu.Lock()
	for _, id := range r.ids {
		seen[id]++
	}
	r.mu.Unlock()
	if len(seen) != failed {
		t.Errorf("receiver got %d distinct events, want %d", len(seen), failed)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s sent %d times", id, n)
		}
	}
}
