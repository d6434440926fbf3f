package integration_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/activities"
	"github.com/tidysupport/tidyhooks/models"
	tidyworker "github.com/tidysupport/tidyhooks/worker"
	"github.com/tidysupport/tidyhooks/workflows"
)

// attemptCounter counts the attempts a worker's activities made.
type attemptCounter struct{ n atomic.Int64 }

func (c *attemptCounter) ObserveAttempt(string, string, int, time.Duration) { c.n.Add(1) }
func (c *attemptCounter) ObserveLogWriteFailure(string)                     {}
func (c *attemptCounter) ObserveDeliveryEnd(models.End)                     {}

// secondWorker starts another worker on the stack's task queue, with
// activities of its own (its own in-memory state), counting its attempts.
func (s *stack) secondWorker() *attemptCounter {
	s.t.Helper()
	counter := &attemptCounter{}
	cfg := s.actsConfig
	cfg.Observer = counter
	w := tidyworker.New(s.client, activities.New(s.store, cfg), tidyworker.Options{TaskQueue: s.taskQueue})
	if err := w.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(w.Stop)
	return counter
}

// emitMany emits n contact.created events to wrk_a in one batch request
// and returns their ids.
func (s *stack) emitMany(n int) []string {
	s.t.Helper()
	events := make([]map[string]any, n)
	for i := range events {
		events[i] = map[string]any{"event": "contact.created", "payload": map[string]any{"contact": map[string]any{"id": fmt.Sprint(i)}}}
	}
	b, _ := json.Marshal(map[string]any{"events": events})
	code, out := s.do("POST", "/v1/events/batch", s.keyA, string(b))
	if code != http.StatusAccepted {
		s.t.Fatalf("emit batch: %d %v", code, out)
	}
	var ids []string
	for _, id := range out["ids"].([]any) {
		ids = append(ids, id.(string))
	}
	return ids
}

// stamped records when each request arrived and how many were under way
// at once, taking hold to answer each.
type stamped struct {
	*httptest.Server
	mu      sync.Mutex
	at      []time.Time
	now     int
	most    int
	holdFor time.Duration
}

func newStamped(t *testing.T, holdFor time.Duration) *stamped {
	st := &stamped{holdFor: holdFor}
	st.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st.mu.Lock()
		st.at = append(st.at, time.Now())
		st.now++
		st.most = max(st.most, st.now)
		st.mu.Unlock()
		time.Sleep(st.holdFor)
		st.mu.Lock()
		st.now--
		st.mu.Unlock()
	}))
	t.Cleanup(st.Close)
	return st
}

func (st *stamped) arrivals() []time.Time {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := append([]time.Time(nil), st.at...)
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// Two workers, one webhook limited to 10 deliveries a second: the
// receiver never sees more than 10 % over it in any second, the workers
// share the work, and no delivery uses up a retry by waiting.
func TestThrottleHoldsMaxPerSecondAcrossWorkers(t *testing.T) {
	s := newStack(t, stackOptions{eager: true})
	second := s.secondWorker()
	r := newStamped(t, 0)
	created := s.createWebhook(s.keyA, map[string]any{"url": r.URL, "events": []string{"contact.created"}, "throttle": map[string]any{"maxPerSecond": 10}})
	if th := created["throttle"].(map[string]any); th["maxPerSecond"] != 10.0 {
		t.Errorf("throttle shown as %v", th)
	}
	const n = 40
	ids := s.emitMany(n)
	for _, id := range ids {
		if o := s.wait(id).Webhooks[0]; o.Outcome != workflows.OutcomeDelivered {
			t.Fatalf("%s: %+v", id, o)
		}
	}
	at := r.arrivals()
	if len(at) != n {
		t.Fatalf("receiver got %d requests, want %d", len(at), n)
	}
	// The throttle spaces the requests' starts 100 ms apart; when each
	// arrives moves with the machine's scheduling by tens of
	// milliseconds, so one late arrival can put a start from the next
	// second inside its window: at most 13 in any second, and over the
	// whole run at most 10 % over the limit.
	for i := range at {
		j := i
		for j < len(at) && at[j].Sub(at[i]) < time.Second {
			j++
		}
		if j-i > 13 {
			t.Fatalf("%d arrivals in the second from arrival %d, want at most 13", j-i, i)
		}
	}
	rate := float64(n-1) / at[n-1].Sub(at[0]).Seconds()
	t.Logf("%d deliveries at %.1f/s; the second worker made %d attempts", n, rate, second.n.Load())
	if rate > 11 || rate < 5 {
		t.Errorf("delivered at %.1f/s, want 10 (at most 11)", rate)
	}
	if second.n.Load() == 0 {
		t.Error("the second worker made no attempt")
	}
	// Waiting for a turn is not an attempt: each delivery made one.
	_, log := s.do("GET", "/v1/webhooks/"+created["id"].(string)+"/deliveries?limit=100", s.keyA, "")
	for _, item := range log["deliveries"].(map[string]any)["items"].([]any) {
		if d := item.(map[string]any); d["attemptCount"] != 1.0 || d["status"] != "delivered" {
			t.Errorf("delivery %v", d)
		}
	}
}

// A webhook limited to two deliveries under way never has a third.
func TestThrottleHoldsMaxInFlight(t *testing.T) {
	s := newStack(t, stackOptions{eager: true})
	s.secondWorker()
	r := newStamped(t, 200*time.Millisecond)
	s.createWebhook(s.keyA, map[string]any{"url": r.URL, "events": []string{"contact.created"}, "throttle": map[string]any{"maxInFlight": 2}})
	ids := s.emitMany(12)
	for _, id := range ids {
		if o := s.wait(id).Webhooks[0]; o.Outcome != workflows.OutcomeDelivered {
			t.Fatalf("%s: %+v", id, o)
		}
	}
	r.mu.Lock()
	most, got := r.most, len(r.at)
	r.mu.Unlock()
	if got != 12 || most > 2 || most < 1 {
		t.Errorf("receiver got %d requests, at most %d at once; want 12, at most 2", got, most)
	}
}

func TestThrottleBadInput(t *testing.T) {
	s := newStack(t, stackOptions{})
	r := newReceiver(t, ok)
	id := s.createWebhook(s.keyA, map[string]any{"url": r.URL, "events": []string{"*"}})["id"].(string)
	for _, tt := range []struct{ body, field string }{
		{`{"throttle": {}}`, "throttle"},
		{`{"throttle": {"maxPerSecond": 0.001}}`, "throttle.maxPerSecond"},
		{`{"throttle": {"maxPerSecond": 5000}}`, "throttle.maxPerSecond"},
		{`{"throttle": {"maxInFlight": -1}}`, "throttle.maxInFlight"},
		{`{"throttle": {"maxInFlight": 1.5}}`, "throttle.maxInFlight"},
		{`{"throttle": {"perMinute": 5}}`, "throttle.perMinute"},
	} {
		code, out := s.do("PATCH", "/v1/webhooks/"+id, s.keyA, tt.body)
		if code != http.StatusUnprocessableEntity || !strings.HasPrefix(errorMessage(out), tt.field+":") {
			t.Errorf("patch with %s: %d %v, want 422 naming %s", tt.body, code, out, tt.field)
		}
	}
	if _, out := s.do("GET", "/v1/webhooks/"+id, s.keyA, ""); out["throttle"] != nil {
		t.Errorf("refused patches left a throttle: %v", out["throttle"])
	}
	if code, out := s.do("PATCH", "/v1/webhooks/"+id, s.keyA, `{"throttle": {"maxPerSecond": 2.5, "maxInFlight": 3}}`); code != http.StatusOK || out["throttle"] == nil {
		t.Fatalf("set throttle: %d %v", code, out)
	}
	if code, out := s.do("PATCH", "/v1/webhooks/"+id, s.keyA, `{"throttle": null}`); code != http.StatusOK || out["throttle"] != nil {
		t.Fatalf("remove throttle: %d %v", code, out)
	}
}
