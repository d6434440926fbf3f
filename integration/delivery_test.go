package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/tidysupport/tidyhooks/workflows"
)

func TestEventReachesEveryMatchingWebhookAndNoOther(t *testing.T) {
	s := newStack(t, stackOptions{eager: true})
	exact, family, all := newReceiver(t, ok), newReceiver(t, ok), newReceiver(t, ok)
	other, paused, otherWorkspace := newReceiver(t, ok), newReceiver(t, ok), newReceiver(t, ok)
	exactID, exactSecret := s.webhook(s.keyA, exact.URL+"/exact", "conversation.created")
	s.webhook(s.keyA, family.URL, "CONVERSATION_*")
	s.webhook(s.keyA, all.URL, "*")
	s.webhook(s.keyA, other.URL, "message.received", "contact.created")
	b, _ := json.Marshal(map[string]any{"url": paused.URL, "events": []string{"*"}, "status": "PAUSED"})
	if code, out := s.do("POST", "/v1/webhooks", s.keyA, string(b)); code != http.StatusCreated {
		t.Fatalf("create paused webhook: %d %v", code, out)
	}
	s.webhook(s.keyB, otherWorkspace.URL, "*")

	payload := `{"conversation": {"id": "cnv_abc123", "workspaceId": "wrk_a"}}`
	id := s.emit(s.platform, `{"event": "CONVERSATION_CREATED", "workspaceId": "wrk_a", "timestamp": "2024-01-15T10:30:00Z", "payload": `+payload+`}`)
	res := s.wait(id)
	if len(res.Webhooks) != 3 {
		t.Errorf("workflow delivered to %d webhooks, want 3: %+v", len(res.Webhooks), res)
	}
	for name, r := range map[string]*receiver{"exact": exact, "family": family, "all": all} {
		if got := r.eventIDs(); len(got) != 1 || got[id] != 1 {
			t.Errorf("%s receiver got %v, want %s once", name, got, id)
		}
	}
	for name, r := range map[string]*receiver{"unsubscribed": other, "paused": paused, "other workspace": otherWorkspace} {
		if n := len(r.deliveries()); n != 0 {
			t.Errorf("%s receiver got %d requests, want none", name, n)
		}
	}

	d := exact.deliveries()[0]
	wantBody := `{"event":"conversation.created","version":1,"timestamp":"2024-01-15T10:30:00.000Z","payload":` + payload + `}`
	if string(d.body) != wantBody {
		t.Errorf("body =\n%s\nwant\n%s", d.body, wantBody)
	}
	for h, want := range map[string]string{
		"Content-Type":             "application/json",
		"User-Agent":               "TidySupport-Webhooks/test",
		"webhook-id":               id,
		"X-TidySupport-Event":      "conversation.created",
		"X-TidySupport-Webhook-Id": exactID,
		"X-TidySupport-Attempt":    "1",
	} {
		if got := d.header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	wh, err := standardwebhooks.NewWebhook(exactSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(d.body, d.header); err != nil {
		t.Errorf("signature does not verify with the Standard Webhooks library: %v", err)
	}
}

func TestSameEventIDIsDeliveredOnce(t *testing.T) {
	s := newStack(t, stackOptions{eager: true})
	r := newReceiver(t, ok)
	s.webhook(s.keyA, r.URL, "*")
	body := `{"id": "evt_dup_1", "event": "contact.created", "payload": {"contact": {"id": "cnt_1"}}}`

	var wg sync.WaitGroup
	var accepted atomic.Int32
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, out := s.do("POST", "/v1/events", s.keyA, body); code == http.StatusAccepted && out["id"] == "evt_dup_1" {
				accepted.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := accepted.Load(); n != 5 {
		t.Fatalf("%d of 5 concurrent emissions answered 202 with the id", n)
	}
	s.wait("evt_dup_1")
	// Again after the workflow closed, alone and inside a batch.
	if id := s.emit(s.keyA, body); id != "evt_dup_1" {
		t.Errorf("re-emission answered id %s", id)
	}
	code, out := s.do("POST", "/v1/events/batch", s.keyA, `{"events": [`+body+`, {"id": "evt_dup_2", "event": "contact.created", "payload": {}}]}`)
	if code != http.StatusAccepted {
		t.Fatalf("batch: %d %v", code, out)
	}
	s.wait("evt_dup_2")
	if got := r.eventIDs(); got["evt_dup_1"] != 1 || got["evt_dup_2"] != 1 || len(got) != 2 {
		t.Errorf("receiver got %v, want each event once", got)
	}
}

func TestFailingReceiverGetsTheEventOnAttemptFour(t *testing.T) {
	s := newStack(t, stackOptions{})
	r := newReceiver(t, func(n int) int {
		if n <= 3 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	_, secret := s.webhook(s.keyA, r.URL, "message.created")
	id := s.emit(s.keyA, `{"event": "message.received", "payload": {"message": {"id": "msg_1"}}}`)
	res := s.wait(id)
	if len(res.Webhooks) != 1 || res.Webhooks[0].Outcome != workflows.OutcomeDelivered || res.Webhooks[0].Attempts != 4 {
		t.Fatalf("result = %+v, want delivered on attempt 4", res)
	}
	got := r.deliveries()
	if len(got) != 4 {
		t.Fatalf("receiver got %d requests, want 4", len(got))
	}
	wh, _ := standardwebhooks.NewWebhook(secret)
	for i, d := range got {
		if d.header.Get("webhook-id") != id {
			t.Errorf("attempt %d webhook-id = %q, want %q", i+1, d.header.Get("webhook-id"), id)
		}
		if a := d.header.Get("X-TidySupport-Attempt"); a != fmt.Sprint(i+1) {
			t.Errorf("attempt %d has X-TidySupport-Attempt %s", i+1, a)
		}
		if err := wh.Verify(d.body, d.header); err != nil {
			t.Errorf("attempt %d signature: %v", i+1, err)
		}
	}
	code, w := s.do("GET", "/v1/webhooks/"+res.Webhooks[0].WebhookID, s.keyA, "")
	if code != http.StatusOK || w["lastAttemptedAt"] == nil || w["lastErrorMessage"] == nil {
		t.Errorf("webhook after failures then success = %d %v, want lastAttemptedAt and the last error kept", code, w)
	}
}

func TestGonePausesTheWebhook(t *testing.T) {
	s := newStack(t, stackOptions{})
	r := newReceiver(t, func(int) int { return http.StatusGone })
	whID, _ := s.webhook(s.keyA, r.URL, "*")
	res := s.wait(s.emit(s.keyA, `{"event": "signal.created", "payload": {"signal": {}}}`))
	if res.Webhooks[0].Outcome != workflows.OutcomePaused {
		t.Errorf("outcome = %+v, want paused", res.Webhooks[0])
	}
	code, w := s.do("GET", "/v1/webhooks/"+whID, s.keyA, "")
	if code != http.StatusOK || w["status"] != "PAUSED" || w["pausedReason"] == nil || w["pausedReason"] == "" {
		t.Errorf("webhook = %d %v, want PAUSED with pausedReason", code, w)
	}
	res = s.wait(s.emit(s.keyA, `{"event": "signal.updated", "payload": {"signal": {}}}`))
	if len(res.Webhooks) != 0 {
		t.Errorf("an event after the pause matched %+v", res.Webhooks)
	}
	if n := len(r.deliveries()); n != 1 {
		t.Errorf("receiver got %d requests, want only the one answered 410", n)
	}
}

func TestWorkerRestartDeliversEveryPendingEvent(t *testing.T) {
	// Waits long enough that no event runs out of attempts before the
	// worker stops, however slowly the machine runs the first ones.
	s := newStack(t, stackOptions{schedule: []time.Duration{2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second}})
	var up atomic.Bool
	r := newReceiver(t, func(int) int {
		if up.Load() {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	})
	s.webhook(s.keyA, r.URL, "*")
	var ids []string
	for i := range 10 {
		ids = append(ids, s.emit(s.keyA, fmt.Sprintf(`{"event": "conversation.closed", "payload": {"n": %d}}`, i)))
	}
	eventually(t, "every event's first attempt", func() bool { return len(r.eventIDs()) == 10 })
	s.worker.Stop()
	for i := range 5 {
		ids = append(ids, s.emit(s.keyA, fmt.Sprintf(`{"event": "conversation.reopened", "payload": {"n": %d}}`, i)))
	}
	up.Store(true)
	s.startWorker()
	for _, id := range ids {
		if res := s.wait(id); len(res.Webhooks) != 1 || res.Webhooks[0].Outcome != workflows.OutcomeDelivered {
			t.Errorf("event %s: %+v, want delivered", id, res)
		}
	}
	got := r.eventIDs()
	for _, id := range ids {
		if got[id] == 0 {
			t.Errorf("event %s never reached the receiver", id)
		}
	}
}

func TestWorkspaceKeysSeeOnlyTheirWorkspace(t *testing.T) {
	s := newStack(t, stackOptions{})
	r := newReceiver(t, ok)
	idA, _ := s.webhook(s.keyA, r.URL, "*")
	if code, _ := s.do("GET", "/v1/webhooks/"+idA, s.keyB, ""); code != http.StatusNotFound {
		t.Errorf("another workspace's GET = %d, want 404", code)
	}
	_, list := s.do("GET", "/v1/webhooks", s.keyB, "")
	if items := list["webhooks"].(map[string]any)["items"].([]any); len(items) != 0 {
		t.Errorf("workspace B lists %d webhooks, want 0", len(items))
	}
	_, list = s.do("GET", "/v1/webhooks", s.keyA, "")
	if items := list["webhooks"].(map[string]any)["items"].([]any); len(items) != 1 {
		t.Errorf("workspace A lists %d webhooks, want 1", len(items))
	}
	if _, err := s.store.Webhook(context.Background(), "wrk_a", idA); err != nil {
		t.Fatal(err)
	}
}

// A webhook whose attempts all fail for the auto-pause window is paused;
// its pending deliveries stop retrying (skipped); resuming it brings new
// events back.
func TestAutoPauseSkipsPendingDeliveriesAndResumes(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := newStack(t, stackOptions{backend: backend, pauseAfter: time.Second, schedule: []time.Duration{
			400 * time.Millisecond, 400 * time.Millisecond, 400 * time.Millisecond, 400 * time.Millisecond, 400 * time.Millisecond,
			400 * time.Millisecond, 400 * time.Millisecond, 400 * time.Millisecond, 400 * time.Millisecond, 400 * time.Millisecond,
		}})
		var up atomic.Bool
		r := newReceiver(t, func(int) int {
			if up.Load() {
				return http.StatusOK
			}
			return http.StatusInternalServerError
		})
		id, _ := s.webhook(s.keyA, r.URL, "*")
		since := time.Now().UTC().Add(-time.Second).Format(time.RFC3339)
		first := s.emit(s.keyA, `{"event": "conversation.updated", "payload": {}}`)
		res := s.wait(first)
		if o := res.Webhooks[0]; o.Outcome != workflows.OutcomeSkipped || !strings.Contains(o.Error, "paused") {
			t.Errorf("outcome = %+v, want skipped once the webhook was paused", o)
		}
		code, w := s.do("GET", "/v1/webhooks/"+id, s.keyA, "")
		if code != http.StatusOK || w["status"] != "PAUSED" || !strings.Contains(fmt.Sprint(w["pausedReason"]), "every delivery attempt failed for 1s") {
			t.Fatalf("webhook = %d %v, want PAUSED by auto-pause", code, w)
		}
		attempts := len(r.deliveries())
		if attempts < 2 || attempts > 6 {
			t.Errorf("receiver got %d attempts before the pause, want a few over about a second", attempts)
		}
		if d := s.deliveryOf(id, first); d["status"] != "skipped" || !strings.Contains(fmt.Sprint(d["lastError"]), "paused") {
			t.Errorf("pending delivery after the pause = %s %v, want skipped", d["status"], d["lastError"])
		}
		if code, _ := s.do("POST", "/v1/webhooks/"+id+"/recover", s.keyA, `{"since": "`+since+`"}`); code != http.StatusConflict {
			t.Errorf("recover while paused = %d, want 409", code)
		}
		up.Store(true)
		if code, _ := s.do("PATCH", "/v1/webhooks/"+id, s.keyA, `{"status": "ACTIVE"}`); code != http.StatusOK {
			t.Fatal("resume")
		}
		// Resuming and recovering bring back what was skipped.
		code, rec := s.do("POST", "/v1/webhooks/"+id+"/recover", s.keyA, `{"since": "`+since+`"}`)
		if code != http.StatusAccepted || rec["count"] != float64(1) {
			t.Fatalf("recover after resuming = %d %v", code, rec)
		}
		var recovered workflows.RecoverResult
		s.waitWorkflow(fmt.Sprint(rec["workflowId"]), &recovered)
		if d := s.deliveryOf(id, first); d["status"] != "delivered" || !strings.HasSuffix(summary(d), "recover:delivered:200") {
			t.Errorf("skipped delivery after recover = %s %s", d["status"], summary(d))
		}
		next := s.emit(s.keyA, `{"event": "conversation.updated", "payload": {}}`)
		if o := s.wait(next).Webhooks[0]; o.Outcome != workflows.OutcomeDelivered {
			t.Errorf("after resuming: %+v, want delivered", o)
		}
	})
}
