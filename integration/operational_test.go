package integration_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/emitter"
	tidyworker "github.com/tidysupport/tidyhooks/worker"
)

// pausedEvents are the webhook.paused bodies a receiver got.
func pausedEvents(r *receiver) []map[string]any {
	var out []map[string]any
	for _, d := range r.deliveries() {
		if d.header.Get("X-TidySupport-Event") != "webhook.paused" {
			continue
		}
		var body map[string]any
		_ = json.Unmarshal(d.body, &body)
		out = append(out, body)
	}
	return out
}

// A webhook paused by a 410 is announced to the workspace's webhooks that
// subscribe to webhook.paused (by name or family), never through "*" nor
// to another workspace; the pause then waits to be acknowledged.
func TestAutomaticPauseIsAnnouncedToSubscribers(t *testing.T) {
	s := newStack(t, stackOptions{})
	gone := newReceiver(t, func(int) int { return http.StatusGone })
	ops, byName, all, other := newReceiver(t, ok), newReceiver(t, ok), newReceiver(t, ok), newReceiver(t, ok)
	goneID, _ := s.webhook(s.keyA, gone.URL, "SIGNAL_*")
	s.webhook(s.keyA, ops.URL, "webhook.*")
	s.webhook(s.keyA, byName.URL, "WEBHOOK_PAUSED", "CONTACT_CREATED")
	s.webhook(s.keyA, all.URL, "*")
	s.webhook(s.keyB, other.URL, "webhook.*")

	s.wait(s.emit(s.keyA, `{"event": "signal.created", "payload": {"signal": {"id": "sig_1"}}}`))
	eventually(t, "the announcements", func() bool { return len(pausedEvents(ops)) == 1 && len(pausedEvents(byName)) == 1 })
	body := pausedEvents(ops)[0]
	payload, _ := body["payload"].(map[string]any)
	hook, _ := payload["webhook"].(map[string]any)
	if body["event"] != "webhook.paused" || hook["id"] != goneID || hook["url"] != gone.URL || payload["reason"] != "endpoint answered 410 Gone" || payload["pausedAt"] == nil {
		t.Errorf("announcement = %v", body)
	}
	// Every delivery of the announcement is settled once its workflow has
	// ended: what must not have arrived is counted then.
	s.waitIn("wrk_a", ops.deliveries()[0].header.Get("webhook-id"))
	if n := len(pausedEvents(all)); n != 0 {
		t.Errorf(`a "*" webhook got %d webhook.paused`, n)
	}
	if n := len(other.deliveries()); n != 0 {
		t.Errorf("another workspace got %d requests", n)
	}
	if n := len(pausedEvents(ops)); n != 1 {
		t.Errorf("announced %d times", n)
	}

	code, w := s.do("GET", "/v1/webhooks/"+goneID, s.keyA, "")
	if code != http.StatusOK || w["status"] != "PAUSED" || w["pausedAt"] == nil || w["pauseAcknowledgedAt"] != nil {
		t.Fatalf("paused webhook = %d %v", code, w)
	}
	if code, _ := s.do("POST", "/v1/webhooks/"+goneID+"/acknowledge-pause", s.keyB, ""); code != http.StatusNotFound {
		t.Errorf("another workspace acknowledging = %d, want 404", code)
	}
	if code, _ := s.do("POST", "/v1/webhooks/"+goneID+"/acknowledge-pause", s.keyA, `{"x": 1}`); code != http.StatusUnprocessableEntity {
		t.Errorf("acknowledging with a body = %d, want 422", code)
	}
	if code, w := s.do("POST", "/v1/webhooks/"+goneID+"/acknowledge-pause", s.keyA, ""); code != http.StatusOK || w["pauseAcknowledgedAt"] == nil || w["status"] != "PAUSED" {
		t.Errorf("acknowledge = %d %v", code, w)
	}
	s.do("PATCH", "/v1/webhooks/"+goneID, s.keyA, `{"status": "ACTIVE"}`)
	if code, out := s.do("POST", "/v1/webhooks/"+goneID+"/acknowledge-pause", s.keyA, ""); code != http.StatusConflict {
		t.Errorf("acknowledging an active webhook = %d %v, want 409", code, out)
	}

	// The platform cannot emit it.
	if code, out := s.do("POST", "/v1/events", s.keyA, `{"event": "webhook.paused", "payload": {}}`); code != http.StatusUnprocessableEntity {
		t.Errorf("emitting webhook.paused = %d %v, want 422", code, out)
	}
}

// An announcement the pausing worker could not publish is published by the
// sweep, once however often it runs.
func TestPauseAnnouncementLeftToTheSweepArrivesOnce(t *testing.T) {
	s := newStack(t, stackOptions{noAnnouncer: true})
	gone := newReceiver(t, func(int) int { return http.StatusGone })
	ops := newReceiver(t, ok)
	s.webhook(s.keyA, gone.URL, "CONTACT_CREATED")
	s.webhook(s.keyA, ops.URL, "WEBHOOK_*")
	since := time.Now().Add(-time.Minute)
	// A pause publishes its announcement in the attempt that paused, before
	// the event's workflow ends: with no announcer, none has been.
	s.wait(s.emit(s.keyA, `{"event": "contact.created", "payload": {}}`))
	if n := len(ops.deliveries()); n != 0 {
		t.Fatalf("announced without an announcer: %d", n)
	}
	// Two workers sweeping, one of them twice: the second sweep of a
	// worker publishes nothing more, and the other worker's publishing
	// again delivers nothing more.
	em := emitter.New(s.store, s.client, emitter.Options{TaskQueue: s.taskQueue})
	one, other := tidyworker.NewAnnouncements(s.store, em), tidyworker.NewAnnouncements(s.store, em)
	for i, want := range []int{1, 0} {
		if n, err := one.Sweep(context.Background(), since); err != nil || n != want {
			t.Fatalf("sweep %d = %d, %v; want %d", i+1, n, err, want)
		}
	}
	if n, err := other.Sweep(context.Background(), since); err != nil || n != 1 {
		t.Fatalf("the other worker's sweep = %d, %v", n, err)
	}
	eventually(t, "the swept announcement", func() bool { return len(pausedEvents(ops)) == 1 })
	// Published twice, it is one workflow: once that has ended, nothing
	// more can arrive.
	s.waitIn("wrk_a", ops.deliveries()[0].header.Get("webhook-id"))
	if n := len(ops.deliveries()); n != 1 {
		t.Errorf("the announcement arrived %d times", n)
	}
}

// The catalog describes every event with an example; "send an example"
// delivers that example, signed and logged as a test, and the log shows
// the attempt's request (headers with secrets masked, body) and response.
func TestSendAnExampleAndReadTheAttempt(t *testing.T) {
	s := newStack(t, stackOptions{})
	r := newReceiver(t, ok)
	code, out := s.do("POST", "/v1/webhooks", s.keyA, `{"url": "`+r.URL+`", "events": ["CONVERSATION_*"],
		"headers": {"X-Api-Key": "key-value-that-is-long-1234"}, "auth": {"type": "bearer", "token": "bearer-secret-token"}}`)
	if code != http.StatusCreated {
		t.Fatalf("create = %d %v", code, out)
	}
	id := out["id"].(string)

	code, catalog := s.do("GET", "/v1/event-types", s.keyA, "")
	var example map[string]any
	var sawOperational bool
	for _, f := range objects(catalog["families"]) {
		if f["name"] == "webhook" {
			sawOperational = f["operational"] == true
		}
		for _, e := range objects(f["events"]) {
			if e["description"] == "" || e["example"] == nil {
				t.Errorf("%v has no description or example", e["name"])
			}
			if e["name"] == "CONVERSATION_CREATED" {
				example, _ = e["example"].(map[string]any)
			}
		}
	}
	if code != http.StatusOK || example == nil || !sawOperational {
		t.Fatalf("catalog = %d %v", code, catalog)
	}

	for _, bad := range []struct{ body, want string }{
		{`{"event": "contact.created"}`, "does not subscribe to contact.created"},
		{`{"event": "nope.created"}`, "unknown event"},
		{`{"event": "testing.connection"}`, "unknown event"},
		{`{"event": 5}`, "event"},
		{`{"event": "conversation.created", "extra": 1}`, "extra"},
	} {
		code, out := s.do("POST", "/v1/webhooks/"+id+"/test", s.keyA, bad.body)
		if code != http.StatusUnprocessableEntity || !strings.Contains(errorMessage(out), bad.want) {
			t.Errorf("test %s = %d %v, want 422 naming %q", bad.body, code, out, bad.want)
		}
	}
	if n := len(r.deliveries()); n != 0 {
		t.Fatalf("refused examples reached the receiver %d times", n)
	}

	code, res := s.do("POST", "/v1/webhooks/"+id+"/test", s.keyA, `{"event": "conversation.created"}`)
	if code != http.StatusOK || res["delivered"] != true || res["event"] != "conversation.created" {
		t.Fatalf("send an example = %d %v", code, res)
	}
	got := r.deliveries()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests", len(got))
	}
	var body struct {
		Event   string
		Payload map[string]any
	}
	if err := json.Unmarshal(got[0].body, &body); err != nil || body.Event != "conversation.created" {
		t.Fatalf("example body = %s (%v)", got[0].body, err)
	}
	if b1, _ := json.Marshal(body.Payload); string(b1) != mustJSON(example) {
		t.Errorf("payload %s, want the catalog's example %s", b1, mustJSON(example))
	}

	d := s.deliveryOf(id, res["eventId"].(string))
	if d == nil {
		t.Fatal("the example is not in the log")
	}
	code, full := s.do("GET", "/v1/deliveries/"+d["id"].(string), s.keyA, "")
	attempts := attemptsOf(full)
	if code != http.StatusOK || len(attempts) != 1 || attempts[0]["trigger"] != "test" {
		t.Fatalf("delivery = %d %v", code, full)
	}
	if full["requestBody"] != string(got[0].body) {
		t.Errorf("requestBody = %v, want what was sent: %s", full["requestBody"], got[0].body)
	}
	sent, _ := attempts[0]["requestHeaders"].(map[string]any)
	if sent["Webhook-Signature"] != got[0].header.Get("webhook-signature") || sent["Webhook-Id"] != res["eventId"] {
		t.Errorf("requestHeaders = %v, want the signature and id sent", sent)
	}
	if sent["Authorization"] != "Bearer ••••" || sent["X-Api-Key"] != "••••1234" {
		t.Errorf("credentials in the log: Authorization %v, X-Api-Key %v", sent["Authorization"], sent["X-Api-Key"])
	}
	if raw, _ := json.Marshal(full); strings.Contains(string(raw), "bearer-secret-token") || strings.Contains(string(raw), "key-value-that-is-long") {
		t.Error("the delivery shows a secret")
	}
	if gotHeaders, _ := attempts[0]["responseHeaders"].(map[string]any); gotHeaders["Content-Length"] != "0" || gotHeaders["Date"] == nil {
		t.Errorf("responseHeaders = %v", attempts[0]["responseHeaders"])
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
