package integration_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/workflows"
)

// arrival is one request an ordering receiver got.
type arrival struct {
	conversation, eventID string
	ok                    bool
	at                    time.Time
}

// Three conversations interleaved, a receiver failing at random, and a
// fourth conversation whose every delivery fails: each conversation's
// events arrive in the order they were emitted (a retry never lets a later
// one pass), and the failing conversation holds up no other.
func TestOrderingPerConversation(t *testing.T) {
	s := newStack(t, stackOptions{eager: true})
	var mu sync.Mutex
	var got []arrival
	rng := rand.New(rand.NewPCG(7, 11))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Payload struct {
				Conversation struct{ ID string } `json:"conversation"`
				Message      struct {
					ConversationID string `json:"conversationId"`
				} `json:"message"`
			} `json:"payload"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		conv := body.Payload.Conversation.ID + body.Payload.Message.ConversationID
		attempt, _ := strconv.Atoi(r.Header.Get("X-TidySupport-Attempt"))
		mu.Lock()
		ok := conv != "cnv_x" && (attempt >= 3 || rng.Float64() >= 0.35)
		got = append(got, arrival{conversation: conv, eventID: r.Header.Get("webhook-id"), ok: ok, at: time.Now()})
		mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	created := s.createWebhook(s.keyA, map[string]any{"url": srv.URL, "events": []string{"*"}, "ordering": "conversation"})
	if created["ordering"] != "conversation" {
		t.Fatalf("created with ordering %v", created["ordering"])
	}

	// Five events per conversation, interleaved, each emitted once the one
	// before it was accepted.
	steps := []struct{ event, payload string }{
		{"conversation.created", `{"conversation": {"id": %q}}`},
		{"message.received", `{"message": {"id": "m1", "conversationId": %q}}`},
		{"message.received", `{"message": {"id": "m2", "conversationId": %q}}`},
		{"conversation.assigned", `{"conversation": {"id": %q}}`},
		{"conversation.closed", `{"conversation": {"id": %q}}`},
	}
	conversations := []string{"cnv_a", "cnv_b", "cnv_c", "cnv_x"}
	emitted := map[string][]string{}
	for _, step := range steps {
		for _, conv := range conversations {
			payload := fmt.Sprintf(step.payload, conv)
			id := s.emit(s.platform, `{"event": "`+step.event+`", "workspaceId": "wrk_a", "payload": `+payload+`}`)
			emitted[conv] = append(emitted[conv], id)
			if res := s.wait(id); len(res.Webhooks) != 1 || res.Webhooks[0].Outcome != workflows.OutcomeQueued {
				t.Fatalf("event %s: %+v, want queued for ordered delivery", id, res)
			}
		}
	}
	// A contact has no conversation: delivered at once, unordered.
	contact := s.emit(s.platform, `{"event": "contact.created", "workspaceId": "wrk_a", "payload": {"contact": {"id": "c1"}}}`)
	if res := s.wait(contact); res.Webhooks[0].Outcome != workflows.OutcomeDelivered {
		t.Errorf("contact event: %+v", res)
	}

	delivered := func(conv string) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, a := range got {
			if a.conversation == conv && a.ok {
				n++
			}
		}
		return n
	}
	eventually(t, "the healthy conversations delivered", func() bool {
		return delivered("cnv_a") == 5 && delivered("cnv_b") == 5 && delivered("cnv_c") == 5
	})
	mu.Lock()
	healthyDone := time.Now()
	var xEvents []string
	for _, a := range got {
		if a.conversation == "cnv_x" && (len(xEvents) == 0 || xEvents[len(xEvents)-1] != a.eventID) {
			xEvents = append(xEvents, a.eventID)
		}
	}
	mu.Unlock()
	if len(xEvents) >= len(steps) {
		t.Errorf("the failing conversation had reached its last event (%d of %d) when the others were done at %s: it held them up",
			len(xEvents), len(steps), healthyDone.Format(time.StampMilli))
	}

	// Every conversation's arrivals, retries included, follow the order
	// of emission and never go back.
	eventually(t, "the failing conversation given up event by event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		seen := map[string]bool{}
		for _, a := range got {
			if a.conversation == "cnv_x" {
				seen[a.eventID] = true
			}
		}
		return len(seen) == len(steps)
	})
	mu.Lock()
	defer mu.Unlock()
	for _, conv := range conversations {
		index := map[string]int{}
		for i, id := range emitted[conv] {
			index[id] = i
		}
		last := -1
		for _, a := range got {
			if a.conversation != conv {
				continue
			}
			i, ok := index[a.eventID]
			if !ok || i < last || i > last+1 && last >= 0 || last == -1 && i != 0 {
				t.Fatalf("%s: event %s (emitted %d) arrived after event %d", conv, a.eventID, i, last)
			}
			last = i
		}
		if last != len(steps)-1 {
			t.Errorf("%s: last event arrived %d, want %d", conv, last, len(steps)-1)
		}
	}
}

func TestOrderingBadInput(t *testing.T) {
	s := newStack(t, stackOptions{})
	r := newReceiver(t, ok)
	for _, body := range []string{
		`{"url": "` + r.URL + `", "events": ["*"], "ordering": "chaos"}`,
		`{"url": "` + r.URL + `", "events": ["*"], "ordering": 1}`,
	} {
		if code, out := s.do("POST", "/v1/webhooks", s.keyA, body); code != http.StatusUnprocessableEntity || !strings.HasPrefix(errorMessage(out), "ordering:") {
			t.Errorf("create with %s: %d %v, want 422 naming ordering", body, code, out)
		}
	}
	id := s.createWebhook(s.keyA, map[string]any{"url": r.URL, "events": []string{"*"}})["id"].(string)
	if code, out := s.do("PATCH", "/v1/webhooks/"+id, s.keyA, `{"ordering": "random"}`); code != http.StatusUnprocessableEntity || !strings.HasPrefix(errorMessage(out), "ordering:") {
		t.Errorf("patch: %d %v", code, out)
	}
	if _, out := s.do("GET", "/v1/webhooks/"+id, s.keyA, ""); out["ordering"] != "none" {
		t.Errorf("after refused changes: ordering %v", out["ordering"])
	}
}
