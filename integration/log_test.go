package integration_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidysupport/tidyhooks/activities"
	"github.com/tidysupport/tidyhooks/internal/testenv"
	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/store"
	tidyworker "github.com/tidysupport/tidyhooks/worker"
	"github.com/tidysupport/tidyhooks/workflows"
)

// objects reads a JSON array of objects.
func objects(v any) []map[string]any {
	raw, _ := v.([]any)
	got := make([]map[string]any, len(raw))
	for i, o := range raw {
		got[i], _ = o.(map[string]any)
	}
	return got
}

// items returns the items of a listing answer {"<name>": {"items": […]}}.
func items(out map[string]any, name string) []map[string]any {
	list, _ := out[name].(map[string]any)
	return objects(list["items"])
}

// attemptsOf returns a delivery answer's attempts.
func attemptsOf(d map[string]any) []map[string]any { return objects(d["attempts"]) }

// deliveryOf finds the delivery of an event in a webhook's log.
func (s *stack) deliveryOf(webhookID, eventID string) map[string]any {
	s.t.Helper()
	code, list := s.do("GET", "/v1/webhooks/"+webhookID+"/deliveries?limit=100", s.keyA, "")
	if code != http.StatusOK {
		s.t.Fatalf("list deliveries = %d %v", code, list)
	}
	for _, d := range items(list, "deliveries") {
		if d["eventId"] == eventID {
			code, full := s.do("GET", "/v1/deliveries/"+fmt.Sprint(d["id"]), s.keyA, "")
			if code != http.StatusOK {
				s.t.Fatalf("get delivery = %d %v", code, full)
			}
			return full
		}
	}
	s.t.Fatalf("no delivery of %s in the log of %s: %v", eventID, webhookID, list)
	return nil
}

// summary is a delivery's attempts as "status:code" in order.
func summary(d map[string]any) string {
	var parts []string
	for _, a := range attemptsOf(d) {
		code := "-"
		if c, ok := a["statusCode"].(float64); ok {
			code = fmt.Sprint(int(c))
		}
		parts = append(parts, fmt.Sprintf("%s:%s:%s", a["trigger"], a["status"], code))
	}
	return strings.Join(parts, " ")
}

// waitWorkflow waits for any workflow to complete into result.
func (s *stack) waitWorkflow(id string, result any) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.client.GetWorkflow(ctx, id, "").Get(ctx, result); err != nil {
		s.t.Fatalf("workflow %s: %v", id, err)
	}
}

func eachBackend(t *testing.T, f func(t *testing.T, backend string)) {
	for _, backend := range testenv.Backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			f(t, backend)
		})
	}
}

// An outage: events during it fail or are delivered late, the log shows
// each attempt, and recover replays only what failed, once each.
func TestOutageLogAndRecover(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := newStack(t, stackOptions{backend: backend, schedule: []time.Duration{300 * time.Millisecond, 300 * time.Millisecond}})
		var down, held atomic.Bool
		down.Store(true)
		release := make(chan struct{})
		r := newReceiver(t, func(int) int {
			if down.Load() {
				return http.StatusInternalServerError
			}
			if held.Load() {
				// The recover's attempt waits here until the test has
				// seen a second recover refused, so the first is surely
				// still running then (bounded, should the test fail first).
				select {
				case <-release:
				case <-time.After(30 * time.Second):
				}
			}
			return http.StatusOK
		})
		id, _ := s.webhook(s.keyA, r.URL, "*")
		before := time.Now().UTC().Add(-time.Second).Format(time.RFC3339)

		// Early in the outage: three attempts, all fail.
		lost := s.emit(s.keyA, `{"event": "contact.created", "payload": {"n": 1}}`)
		if o := s.wait(lost).Webhooks[0]; o.Outcome != workflows.OutcomeFailed || o.Attempts != 3 {
			t.Fatalf("event during the outage: %+v, want failed after 3 attempts", o)
		}
		// Late in the outage: the first attempt fails, the endpoint comes
		// back, the retry succeeds.
		late := s.emit(s.keyA, `{"event": "contact.created", "payload": {"n": 2}}`)
		eventually(t, "the late event's first attempt", func() bool { return r.eventIDs()[late] >= 1 })
		down.Store(false)
		if o := s.wait(late).Webhooks[0]; o.Outcome != workflows.OutcomeDelivered || o.Attempts != 2 {
			t.Fatalf("late event: %+v, want delivered on attempt 2", o)
		}
		fine := s.emit(s.keyA, `{"event": "contact.created", "payload": {"n": 3}}`)
		s.wait(fine)

		d := s.deliveryOf(id, lost)
		if d["status"] != "failed" || summary(d) != "scheduled:failed:500 scheduled:failed:500 scheduled:failed:500" || d["nextAttemptAt"] != nil {
			t.Errorf("failed delivery = %s %s", d["status"], summary(d))
		}
		for _, a := range attemptsOf(d) {
			if !strings.Contains(fmt.Sprint(a["error"]), "500") || a["latencyMs"] == nil || a["finishedAt"] == nil {
				t.Errorf("failed attempt lacks its error or timing: %v", a)
			}
		}
		if u, _ := d["workflowUrl"].(string); !strings.HasPrefix(u, "http://ui.test/namespaces/default/workflows/"+workflows.EventWorkflowID("wrk_a", lost)+"/") {
			t.Errorf("workflowUrl = %v", d["workflowUrl"])
		}
		if d := s.deliveryOf(id, late); d["status"] != "delivered" || summary(d) != "scheduled:failed:500 scheduled:delivered:200" {
			t.Errorf("late delivery = %s %s", d["status"], summary(d))
		}
		code, list := s.do("GET", "/v1/webhooks/"+id+"/deliveries?status=failed", s.keyA, "")
		if got := items(list, "deliveries"); code != http.StatusOK || len(got) != 1 || got[0]["eventId"] != lost {
			t.Errorf("failed deliveries = %d %v", code, list)
		}
		code, w := s.do("GET", "/v1/webhooks/"+id, s.keyA, "")
		if code != http.StatusOK || w["lastErrorAt"] == nil || !strings.Contains(fmt.Sprint(w["lastErrorMessage"]), "500") || w["lastAttemptedAt"] == nil {
			t.Errorf("webhook after the outage = %v", w)
		}

		body := `{"since": "` + before + `", "dryRun": true}`
		code, dry := s.do("POST", "/v1/webhooks/"+id+"/recover", s.keyA, body)
		if code != http.StatusOK || dry["count"] != float64(1) || dry["workflowId"] != nil {
			t.Fatalf("dry run = %d %v, want a count of 1", code, dry)
		}
		counts := r.eventIDs()
		held.Store(true)
		code, rec := s.do("POST", "/v1/webhooks/"+id+"/recover", s.keyA, `{"since": "`+before+`"}`)
		if code != http.StatusAccepted || rec["count"] != float64(1) {
			t.Fatalf("recover = %d %v", code, rec)
		}
		// One recover of a webhook at a time: a second would send twice.
		if code, again := s.do("POST", "/v1/webhooks/"+id+"/recover", s.keyA, `{"since": "`+before+`"}`); code != http.StatusConflict {
			t.Errorf("a second recover while the first runs = %d %v, want 409", code, again)
		}
		close(release)
		var res workflows.RecoverResult
		s.waitWorkflow(fmt.Sprint(rec["workflowId"]), &res)
		if res != (workflows.RecoverResult{Attempted: 1, Delivered: 1}) {
			t.Errorf("recover result = %+v", res)
		}
		after := r.eventIDs()
		for ev, want := range map[string]int{lost: counts[lost] + 1, late: counts[late], fine: counts[fine]} {
			if after[ev] != want {
				t.Errorf("event %s received %d times, want %d", ev, after[ev], want)
			}
		}
		if d := s.deliveryOf(id, lost); d["status"] != "delivered" || !strings.HasSuffix(summary(d), "recover:delivered:200") {
			t.Errorf("recovered delivery = %s %s", d["status"], summary(d))
		}
		// Nothing is left to recover.
		if code, again := s.do("POST", "/v1/webhooks/"+id+"/recover", s.keyA, `{"since": "`+before+`"}`); code != http.StatusOK || again["count"] != float64(0) {
			t.Errorf("second recover = %d %v, want nothing to do", code, again)
		}
	})
}

func TestRetryDeliversAgainWithTheSameWebhookID(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := newStack(t, stackOptions{backend: backend, eager: true})
		r := newReceiver(t, func(n int) int {
			if n == 2 {
				return http.StatusAccepted
			}
			return http.StatusOK
		})
		id, _ := s.webhook(s.keyA, r.URL, "*")
		ev := s.emit(s.keyA, `{"event": "message.received", "payload": {"text": "hi"}}`)
		s.wait(ev)
		d := s.deliveryOf(id, ev)
		code, out := s.do("POST", "/v1/deliveries/"+fmt.Sprint(d["id"])+"/retry", s.keyA, "")
		if code != http.StatusOK || out["status"] != "delivered" || summary(out) != "scheduled:delivered:200 manual:delivered:202" {
			t.Fatalf("retry = %d %s %s", code, out["status"], summary(out))
		}
		got := r.deliveries()
		if len(got) != 2 || got[0].header.Get("webhook-id") != ev || got[1].header.Get("webhook-id") != ev || string(got[0].body) != string(got[1].body) {
			t.Fatalf("receiver got %d requests; want the same event twice with webhook-id %s", len(got), ev)
		}
		if a := got[1].header.Get("X-TidySupport-Attempt"); a != "2" {
			t.Errorf("the manual attempt's X-TidySupport-Attempt = %q, want 2", a)
		}
		manual := attemptsOf(out)[1]
		if u, _ := manual["workflowUrl"].(string); !strings.Contains(u, "/workflows/retry_") {
			t.Errorf("manual attempt's workflowUrl = %v, want its Redeliver workflow", manual["workflowUrl"])
		}
		if code, _ := s.do("POST", "/v1/deliveries/"+fmt.Sprint(d["id"])+"/retry", s.keyB, ""); code != http.StatusNotFound {
			t.Errorf("retry from another workspace = %d, want 404", code)
		}
		if code, _ := s.do("GET", "/v1/deliveries/"+fmt.Sprint(d["id"]), s.keyB, ""); code != http.StatusNotFound {
			t.Errorf("read from another workspace = %d, want 404", code)
		}
		if code, _ := s.do("POST", "/v1/deliveries/dlv_nope/retry", s.keyA, ""); code != http.StatusNotFound {
			t.Errorf("retry of an unknown delivery = %d, want 404", code)
		}
		if code, _ := s.do("POST", "/v1/deliveries/"+fmt.Sprint(d["id"])+"/retry", s.keyA, `{"now": true}`); code != http.StatusBadRequest && code != http.StatusUnprocessableEntity {
			t.Errorf("retry with an unknown field = %d, want 400 or 422", code)
		}
		if n := len(r.deliveries()); n != 2 {
			t.Errorf("refused retries sent something: %d requests", n)
		}

		// Stats count both attempts today.
		code, stats := s.do("GET", "/v1/webhooks/"+id+"/stats", s.keyA, "")
		days, _ := stats["days"].([]any)
		if code != http.StatusOK || len(days) != 7 {
			t.Fatalf("stats = %d %v", code, stats)
		}
		today, _ := days[6].(map[string]any)
		if today["date"] != time.Now().UTC().Format(time.DateOnly) || today["delivered"] != float64(2) || today["failed"] != float64(0) || today["p50LatencyMs"] == nil {
			t.Errorf("today = %v", today)
		}
		if first, _ := days[0].(map[string]any); first["delivered"] != float64(0) || first["p95LatencyMs"] != nil {
			t.Errorf("a day without traffic = %v", first)
		}
	})
}

func TestLogReadsRefuseBadInput(t *testing.T) {
	s := newStack(t, stackOptions{})
	r := newReceiver(t, ok)
	id, _ := s.webhook(s.keyA, r.URL, "*")
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"bad status", "GET", "/v1/webhooks/" + id + "/deliveries?status=lost", "", 422},
		{"bad event", "GET", "/v1/webhooks/" + id + "/deliveries?event=nothing.happened", "", 422},
		{"bad since", "GET", "/v1/webhooks/" + id + "/deliveries?since=yesterday", "", 422},
		{"until before since", "GET", "/v1/webhooks/" + id + "/deliveries?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "", 422},
		{"bad cursor", "GET", "/v1/webhooks/" + id + "/deliveries?cursor=!!!", "", 422},
		{"bad limit", "GET", "/v1/webhooks/" + id + "/deliveries?limit=0", "", 422},
		{"unknown webhook log", "GET", "/v1/webhooks/wh_nope/deliveries", "", 404},
		{"another workspace's log", "GET", "/v1/webhooks/" + id + "/deliveries", "", 404},
		{"unknown webhook stats", "GET", "/v1/webhooks/wh_nope/stats", "", 404},
		{"recover without since", "POST", "/v1/webhooks/" + id + "/recover", `{}`, 422},
		{"recover bad since", "POST", "/v1/webhooks/" + id + "/recover", `{"since": "last week"}`, 422},
		{"recover since in the future", "POST", "/v1/webhooks/" + id + "/recover", `{"since": "2999-01-01T00:00:00Z"}`, 422},
		{"recover not JSON", "POST", "/v1/webhooks/" + id + "/recover", `since=now`, 400},
		{"recover unknown field", "POST", "/v1/webhooks/" + id + "/recover", `{"since": "2026-01-01T00:00:00Z", "all": true}`, 422},
		{"recover unknown webhook", "POST", "/v1/webhooks/wh_nope/recover", `{"since": "2026-01-01T00:00:00Z"}`, 404},
		{"unknown delivery", "GET", "/v1/deliveries/dlv_nope", "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := s.keyA
			if strings.HasPrefix(tt.name, "another") {
				key = s.keyB
			}
			code, out := s.do(tt.method, tt.path, key, tt.body)
			if code != tt.want {
				t.Errorf("%s %s = %d %v, want %d", tt.method, tt.path, code, out, tt.want)
			}
			if e, _ := out["error"].(map[string]any); e["message"] == nil || e["message"] == "" {
				t.Errorf("no error message: %v", out)
			}
		})
	}
}

// The worker dies after the request and before the log write: the record
// of the attempt is still there, and the endpoint got the event at most
// one extra time.
func TestWorkerKilledBetweenRequestAndRecord(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		var (
			once    sync.Once
			reached = make(chan struct{})
			release = make(chan struct{})
		)
		s := newStack(t, stackOptions{backend: backend, afterSend: func(context.Context, activities.DeliverInput) {
			first := false
			once.Do(func() { first = true })
			if first {
				close(reached)
				<-release // never returns while the test runs: the worker is gone
			}
		}})
		t.Cleanup(func() { close(release) })
		r := newReceiver(t, ok)
		id, _ := s.webhook(s.keyA, r.URL, "*")
		ev := s.emit(s.keyA, `{"event": "conversation.closed", "payload": {}}`)
		<-reached
		// Kill the worker: it stops polling and never reports the attempt.
		s.worker.Stop()
		replacement := activities.New(s.store, activitiesConfigWithout(s.actsConfig))
		w := tidyworker.New(s.client, replacement, tidyworker.Options{TaskQueue: s.taskQueue})
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)

		// Temporal retries the lost attempt after its timeout.
		if o := s.wait(ev).Webhooks[0]; o.Outcome != workflows.OutcomeDelivered {
			t.Fatalf("outcome = %+v", o)
		}
		if n := r.eventIDs()[ev]; n < 1 || n > 2 {
			t.Errorf("receiver got the event %d times, want once or twice", n)
		}
		d := s.deliveryOf(id, ev)
		if summary(d) != "scheduled:unknown:- scheduled:delivered:200" || d["status"] != "delivered" {
			t.Errorf("log = %s %s, want the lost attempt then the success", d["status"], summary(d))
		}
		if e := attemptsOf(d)[0]["error"]; e != store.LostAttemptError {
			t.Errorf("lost attempt's error = %v", e)
		}
	})
}

// activitiesConfigWithout returns cfg without its fault.
func activitiesConfigWithout(cfg activities.Config) activities.Config {
	cfg.AfterSend = nil
	return cfg
}

// failingBegin is the real store whose first BeginAttempt calls fail, as
// with the database briefly down.
type failingBegin struct {
	activities.Store
	left atomic.Int32
}

func (f *failingBegin) BeginAttempt(ctx context.Context, a models.AttemptStart) (models.AttemptRef, error) {
	if f.left.Add(-1) >= 0 {
		return models.AttemptRef{}, errors.New("injected: database unavailable")
	}
	return f.Store.BeginAttempt(ctx, a)
}

// When the log cannot be written before a request, nothing is sent, the
// try is retried, and it does not use up the retry schedule.
func TestLogWriteFailureNeitherSendsNorUsesARetry(t *testing.T) {
	fault := &failingBegin{}
	fault.left.Store(2)
	s := newStack(t, stackOptions{
		schedule:  []time.Duration{100 * time.Millisecond, 100 * time.Millisecond},
		wrapStore: func(st activities.Store) activities.Store { fault.Store = st; return fault },
	})
	r := newReceiver(t, func(int) int { return http.StatusInternalServerError })
	id, _ := s.webhook(s.keyA, r.URL, "*")
	ev := s.emit(s.keyA, `{"event": "contact.created", "payload": {}}`)
	o := s.wait(ev).Webhooks[0]
	if o.Outcome != workflows.OutcomeFailed {
		t.Fatalf("outcome = %+v", o)
	}
	// Three requests, as the schedule says, though Temporal ran five tries.
	if n := r.eventIDs()[ev]; n != 3 {
		t.Errorf("receiver got %d requests, want 3 (the first attempt and two retries)", n)
	}
	if d := s.deliveryOf(id, ev); summary(d) != "scheduled:failed:500 scheduled:failed:500 scheduled:failed:500" {
		t.Errorf("log = %s", summary(d))
	}
}

// failingFinish is the real store whose writes after a request fail, the
// outcome's the first `left` times.
type failingFinish struct {
	activities.Store
	left *atomic.Int32
}

func (f failingFinish) FinishAttempt(ctx context.Context, e models.AttemptEnd) error {
	if f.left.Add(-1) >= 0 {
		return errors.New("injected: database unavailable")
	}
	return f.Store.FinishAttempt(ctx, e)
}

func (failingFinish) RecordAttempt(context.Context, string, string, time.Time, string, time.Duration) ([]models.Event, error) {
	return nil, errors.New("injected: database unavailable")
}

// A log write that fails after the request neither fails the delivery
// nor sends it again; operators see it in the metrics, and the workflow
// writes the outcome once the database answers: the log never stays
// "sending".
func TestLogWriteFailureAfterTheRequestKeepsTheDelivery(t *testing.T) {
	reg := prometheus.NewRegistry()
	left := &atomic.Int32{}
	left.Store(3) // the attempt's own write, and the workflow's first two tries
	s := newStack(t, stackOptions{
		observer:  tidyworker.NewMetrics(reg),
		wrapStore: func(st activities.Store) activities.Store { return failingFinish{st, left} },
	})
	r := newReceiver(t, ok)
	id, _ := s.webhook(s.keyA, r.URL, "*")
	ev := s.emit(s.keyA, `{"event": "signal.created", "payload": {}}`)
	if o := s.wait(ev).Webhooks[0]; o.Outcome != workflows.OutcomeDelivered || o.Attempts != 1 {
		t.Fatalf("outcome = %+v, want delivered on the first attempt", o)
	}
	if n := r.eventIDs()[ev]; n != 1 {
		t.Errorf("receiver got the event %d times, want once", n)
	}
	// The attempt could not write its outcome; the workflow did.
	if d := s.deliveryOf(id, ev); summary(d) != "scheduled:delivered:200" || d["status"] != "delivered" {
		t.Errorf("log = %s (%v)", summary(d), d["status"])
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() == "tidyhooks_delivery_log_write_failures_total" {
			for _, m := range f.GetMetric() {
				got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	if got["outcome"] != 1 || got["webhook"] != 1 {
		t.Errorf("log write failures = %v, want one outcome and one webhook", got)
	}
}

// hangAfterFinish is the real store whose first outcome write succeeds and
// then never returns: the worker dies right after recording a success.
type hangAfterFinish struct {
	activities.Store
	once    sync.Once
	reached chan struct{}
	release chan struct{}
}

func (h *hangAfterFinish) FinishAttempt(ctx context.Context, e models.AttemptEnd) error {
	err := h.Store.FinishAttempt(ctx, e)
	first := false
	h.once.Do(func() { first = true })
	if first {
		close(h.reached)
		<-h.release
	}
	return err
}

// The worker dies after the outcome was recorded and before Temporal heard
// of it: the retried attempt finds the delivery delivered and sends nothing.
func TestWorkerKilledAfterTheRecordSendsNothingMore(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		hang := &hangAfterFinish{reached: make(chan struct{}), release: make(chan struct{})}
		t.Cleanup(func() { close(hang.release) })
		s := newStack(t, stackOptions{backend: backend,
			wrapStore: func(st activities.Store) activities.Store { hang.Store = st; return hang }})
		r := newReceiver(t, ok)
		id, _ := s.webhook(s.keyA, r.URL, "*")
		ev := s.emit(s.keyA, `{"event": "message.updated", "payload": {}}`)
		<-hang.reached
		s.worker.Stop()
		w := tidyworker.New(s.client, activities.New(s.store, s.actsConfig), tidyworker.Options{TaskQueue: s.taskQueue})
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
		if o := s.wait(ev).Webhooks[0]; o.Outcome != workflows.OutcomeDelivered {
			t.Fatalf("outcome = %+v", o)
		}
		if n := r.eventIDs()[ev]; n != 1 {
			t.Errorf("receiver got the event %d times, want once", n)
		}
		if d := s.deliveryOf(id, ev); summary(d) != "scheduled:delivered:200" {
			t.Errorf("log = %s", summary(d))
		}
	})
}
