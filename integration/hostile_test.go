package integration_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/signing"
	"github.com/tidysupport/tidyhooks/workflows"
)

// Hostile tenants: what one workspace must not be able to do to another.

// bodyOf returns the payload a receiver got for an event id, and checks
// its signature with secret.
func bodyOf(t *testing.T, r *receiver, eventID, secret string) map[string]any {
	t.Helper()
	for _, d := range r.deliveries() {
		if d.header.Get("webhook-id") != eventID {
			continue
		}
		ts, _ := strconv.ParseInt(d.header.Get("webhook-timestamp"), 10, 64)
		want, err := signing.Signature(secret, eventID, time.Unix(ts, 0), d.body)
		if err != nil || !strings.Contains(d.header.Get("webhook-signature"), want) {
			t.Errorf("%s: signature %q is not the receiver's own secret's", eventID, d.header.Get("webhook-signature"))
		}
		var env struct {
			Payload map[string]any `json:"payload"`
		}
		if err := json.Unmarshal(d.body, &env); err != nil {
			t.Fatal(err)
		}
		return env.Payload
	}
	t.Fatalf("receiver got no %s", eventID)
	return nil
}

// Two workspaces may use the same event id, in either order and after
// the first one's workflow is gone; each gets its own event, delivered to
// its own webhooks only, signed with its own secret. Within a workspace a
// repeat is delivered once, and a repeat with another payload is a 409.
func TestEventIDsAreScopedToTheirWorkspace(t *testing.T) {
	s := newStack(t, stackOptions{})
	ra, rb := newReceiver(t, ok), newReceiver(t, ok)
	_, secretA := s.webhook(s.keyA, ra.URL, "*")
	_, secretB := s.webhook(s.keyB, rb.URL, "*")
	emit := func(key, id, ws string) {
		t.Helper()
		s.emit(key, fmt.Sprintf(`{"id": %q, "event": "contact.created", "payload": {"contact": {"workspace": %q}}}`, id, ws))
		s.waitIn(ws, id)
	}
	for _, order := range [][2]string{{"wrk_a", "wrk_b"}, {"wrk_b", "wrk_a"}} {
		id := "evt_order_" + order[0]
		for _, ws := range order {
			emit(map[string]string{"wrk_a": s.keyA, "wrk_b": s.keyB}[ws], id, ws)
		}
		if got := bodyOf(t, ra, id, secretA); fmt.Sprint(got) != "map[contact:map[workspace:wrk_a]]" {
			t.Errorf("%s first: wrk_a's receiver got %v", order[0], got)
		}
		if got := bodyOf(t, rb, id, secretB); fmt.Sprint(got) != "map[contact:map[workspace:wrk_b]]" {
			t.Errorf("%s first: wrk_b's receiver got %v", order[0], got)
		}
	}

	// After wrk_a's workflow is gone (as past the namespace's retention)
	// while its event is still stored, wrk_b's event of that id is still
	// wrk_b's own.
	ctx := context.Background()
	gone := workflows.EventWorkflowID("wrk_a", "evt_gone_1")
	emit(s.keyA, "evt_gone_1", "wrk_a")
	if _, err := s.client.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
		Namespace: "default", WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: gone},
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the workflow to be deleted", func() bool {
		_, err := s.client.DescribeWorkflowExecution(ctx, gone, "")
		var nf *serviceerror.NotFound
		return errors.As(err, &nf)
	})
	emit(s.keyB, "evt_gone_1", "wrk_b")
	if got := bodyOf(t, rb, "evt_gone_1", secretB); fmt.Sprint(got) != "map[contact:map[workspace:wrk_b]]" {
		t.Errorf("after wrk_a's workflow was deleted, wrk_b's receiver got %v", got)
	}
	// The delivery log of each workspace shows its own delivery only.
	for _, key := range []string{s.keyA, s.keyB} {
		_, list := s.do("GET", "/v1/webhooks", key, "")
		id := list["webhooks"].(map[string]any)["items"].([]any)[0].(map[string]any)["id"].(string)
		_, page := s.do("GET", "/v1/webhooks/"+id+"/deliveries?limit=100", key, "")
		n := 0
		for _, d := range page["deliveries"].(map[string]any)["items"].([]any) {
			if d.(map[string]any)["eventId"] == "evt_gone_1" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("a workspace's log lists evt_gone_1 %d times, want once", n)
		}
	}

	// Within one workspace: a repeat is delivered once; another payload
	// under the same id is refused, naming it, and changes nothing.
	emit(s.keyA, "evt_order_wrk_a", "wrk_a")
	code, out := s.do("POST", "/v1/events", s.keyA, `{"id": "evt_order_wrk_a", "event": "contact.created", "payload": {"contact": {"other": true}}}`)
	if e, _ := out["error"].(map[string]any); code != http.StatusConflict || !strings.Contains(fmt.Sprint(e["message"]), "evt_order_wrk_a") {
		t.Errorf("same id, other payload: %d %v, want 409 naming the id", code, out)
	}
	if got := ra.eventIDs(); got["evt_order_wrk_a"] != 1 || got["evt_order_wrk_b"] != 1 || got["evt_gone_1"] != 1 {
		t.Errorf("wrk_a's receiver got %v, want each of its events once", got)
	}
	if got := rb.eventIDs(); got["evt_order_wrk_a"] != 1 || got["evt_order_wrk_b"] != 1 || got["evt_gone_1"] != 1 {
		t.Errorf("wrk_b's receiver got %v, want each of its events once", got)
	}
	// The Temporal UI finds an event by its id.
	eventually(t, "visibility to list both workflows of evt_order_wrk_a", func() bool {
		list, err := s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "default", Query: `WorkflowId STARTS_WITH "evt_order_wrk_a@"`,
		})
		return err == nil && len(list.Executions) == 2
	})
}

// An event matching the most webhooks a workspace may have reaches every
// one of them, and the Temporal UI finds each delivery by webhook.
func TestEventMatchingTheMostWebhooks(t *testing.T) {
	const n = workflows.MaxWebhooksPerEvent
	s := newStack(t, stackOptions{maxWebhooks: n})
	var (
		mu  sync.Mutex
		got = map[string]int{}
	)
	r := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		got[req.Header.Get("X-TidySupport-Webhook-Id")]++
		mu.Unlock()
	}))
	t.Cleanup(r.Close)
	ctx := context.Background()
	var ids []string
	for i := range n {
		w, err := models.NewWebhook{URL: fmt.Sprintf("%s/%d", r.URL, i), Events: []string{"*"}}.Validate("wrk_a", models.URLPolicy{AllowHTTP: true})
		if err != nil {
			t.Fatal(err)
		}
		created, err := s.store.CreateWebhook(ctx, w, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", n)
		if err != nil {
			t.Fatalf("webhook %d of %d: %v", i+1, n, err)
		}
		ids = append(ids, created.ID)
	}
	// The limit holds at the maximum.
	if code, out := s.do("POST", "/v1/webhooks", s.keyA, `{"url": "http://example.com/one-more", "events": ["*"]}`); code != http.StatusConflict {
		t.Errorf("webhook %d: %d %v, want 409 limit reached", n+1, code, out)
	}
	started := time.Now()
	res := s.wait(s.emit(s.keyA, `{"event": "contact.created", "payload": {}}`))
	t.Logf("%d webhooks delivered in %s", n, time.Since(started))
	delivered := 0
	for _, o := range res.Webhooks {
		if o.Outcome == workflows.OutcomeDelivered {
			delivered++
		}
	}
	mu.Lock()
	distinct := len(got)
	mu.Unlock()
	if delivered != n || distinct != n {
		t.Fatalf("%d delivered outcomes, %d webhooks reached; want %d", delivered, distinct, n)
	}
	for _, id := range []string{ids[0], ids[n/2], ids[n-1]} {
		eventually(t, "visibility to find the delivery to "+id, func() bool {
			list, err := s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Namespace: "default", Query: fmt.Sprintf("TidyWebhooks = %q", id),
			})
			return err == nil && len(list.Executions) == 1
		})
	}
}

// A workspace whose fifty webhooks hang does not hold up another
// workspace's deliveries.
func TestHangingNeighbourDoesNotDelayAnotherWorkspace(t *testing.T) {
	s := newStack(t, stackOptions{})
	release := make(chan struct{})
	var hanging atomic.Int32 // wrk_b's requests in flight
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		hanging.Add(1)
		defer hanging.Add(-1)
		select {
		case <-release:
		case <-req.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) }) // runs first: lets the hanging requests end
	var (
		mu      sync.Mutex
		arrived = map[string]time.Time{}
	)
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		arrived[req.Header.Get("webhook-id")] = time.Now()
		mu.Unlock()
	}))
	t.Cleanup(fast.Close)
	s.webhook(s.keyA, fast.URL, "*")

	// latencies emits count events to wrk_a at a steady rate and returns
	// how long each took from its 202 to its arrival.
	latencies := func(prefix string, count int) []time.Duration {
		sent := map[string]time.Time{}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := range count {
			<-tick.C
			id := fmt.Sprintf("evt_%s_%d", prefix, i)
			s.emit(s.keyA, fmt.Sprintf(`{"id": %q, "event": "message.created", "payload": {}}`, id))
			sent[id] = time.Now()
		}
		var out []time.Duration
		eventually(t, "wrk_a's events to arrive", func() bool {
			mu.Lock()
			defer mu.Unlock()
			for id := range sent {
				if _, ok := arrived[id]; !ok {
					return false
				}
			}
			return true
		})
		mu.Lock()
		defer mu.Unlock()
		for id, at := range sent {
			out = append(out, max(arrived[id].Sub(at), 0))
		}
		slices.Sort(out)
		return out
	}
	p99 := func(d []time.Duration) time.Duration { return d[(len(d)*99+99)/100-1] }

	alone := latencies("alone", 50)
	for i := range 50 {
		b, _ := json.Marshal(map[string]any{"url": fmt.Sprintf("%s/%d", hang.URL, i), "events": []string{"*"}})
		if code, out := s.do("POST", "/v1/webhooks", s.keyB, string(b)); code != http.StatusCreated {
			t.Fatalf("wrk_b webhook %d: %d %v", i, code, out)
		}
	}
	var batch []string
	for i := range 10 {
		batch = append(batch, fmt.Sprintf(`{"id": "evt_hang_%d", "event": "conversation.created", "payload": {}}`, i))
	}
	if code, out := s.do("POST", "/v1/events/batch", s.keyB, `{"events": [`+strings.Join(batch, ",")+`]}`); code != http.StatusAccepted {
		t.Fatalf("wrk_b batch: %d %v", code, out)
	}
	// wrk_b's 500 deliveries now hang for the whole attempt timeout; the
	// measurement starts once twenty hang, and the fewest hanging at any
	// moment of it is kept.
	eventually(t, "wrk_b's requests hanging", func() bool { return hanging.Load() >= 20 })
	fewest := atomic.Int32{}
	fewest.Store(hanging.Load())
	measured := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-measured:
				return
			case <-tick.C:
				if n := hanging.Load(); n < fewest.Load() {
					fewest.Store(n)
				}
			}
		}
	}()
	neighbour := latencies("neighbour", 150)
	close(measured)
	<-sampled
	if fewest.Load() < 1 {
		t.Errorf("at some moment of the measurement no request of wrk_b was hanging: it measured no neighbour")
	}
	t.Logf("wrk_b's requests hanging throughout: at least %d", fewest.Load())
	t.Logf("wrk_a p99 alone %s, beside 50 hanging webhooks %s (p50 %s, max %s)",
		p99(alone), p99(neighbour), neighbour[len(neighbour)/2], neighbour[len(neighbour)-1])
	if p99(neighbour) >= time.Second {
		t.Errorf("wrk_a's p99 beside a hanging neighbour = %s, want under 1s", p99(neighbour))
	}
}
