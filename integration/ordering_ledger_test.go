package integration_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/models"
)

// orderReceiver records, per conversation, the events it accepted, and
// answers 500 while failing says so.
type orderReceiver struct {
	*httptest.Server
	failing func(conv string, attempt int) bool
	mu      sync.Mutex
	hits    int
	firsts  map[string][]string // conversation → event ids accepted, first arrival each
	seen    map[string]bool
}

func newOrderReceiver(t *testing.T, failing func(conv string, attempt int) bool) *orderReceiver {
	t.Helper()
	r := &orderReceiver{failing: failing, firsts: map[string][]string{}, seen: map[string]bool{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body struct {
			Payload struct {
				Conversation struct{ ID string } `json:"conversation"`
				Message      struct {
					ConversationID string `json:"conversationId"`
				} `json:"message"`
			} `json:"payload"`
		}
		_ = json.NewDecoder(req.Body).Decode(&body)
		conv := body.Payload.Conversation.ID + body.Payload.Message.ConversationID
		attempt, _ := strconv.Atoi(req.Header.Get("X-TidySupport-Attempt"))
		id := req.Header.Get("webhook-id")
		r.mu.Lock()
		defer r.mu.Unlock()
		r.hits++
		if r.failing(conv, attempt) {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if !r.seen[id] {
			r.seen[id] = true
			r.firsts[conv] = append(r.firsts[conv], id)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *orderReceiver) accepted(conv string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.firsts[conv]...)
}

func (r *orderReceiver) hitCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits
}

// logStatuses maps each event id in a webhook's delivery log to its
// delivery's status.
func (s *stack) logStatuses(key, webhookID string) map[string]string {
	s.t.Helper()
	out := map[string]string{}
	cursor := ""
	for {
		path := "/v1/webhooks/" + webhookID + "/deliveries?limit=100"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		code, page := s.do("GET", path, key, "")
		if code != http.StatusOK {
			s.t.Fatalf("delivery log: %d %v", code, page)
		}
		d := page["deliveries"].(map[string]any)
		for _, item := range d["items"].([]any) {
			m := item.(map[string]any)
			out[m["eventId"].(string)] = m["status"].(string)
		}
		next, _ := d["nextCursor"].(string)
		if next == "" {
			return out
		}
		cursor = next
	}
}

// The ordered webhook paused while its conversation's first event is
// being retried: what it still owed is logged skipped at once (nothing is
// left unlogged), an event emitted after the resume is delivered, and a
// recover replays the six owed events in the order they were emitted.
func TestOrderedPauseLogsOwedAndRecoverReplaysInOrder(t *testing.T) {
	s := newStack(t, stackOptions{schedule: []time.Duration{300 * time.Millisecond, 300 * time.Millisecond, 10 * time.Second, 10 * time.Second}})
	var healthy atomic.Bool
	r := newOrderReceiver(t, func(string, int) bool { return !healthy.Load() })
	id := s.createWebhook(s.keyA, map[string]any{"url": r.URL, "events": []string{"*"}, "ordering": "conversation"})["id"].(string)
	before := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)

	var emitted []string
	for i := range 6 {
		emitted = append(emitted, s.emit(s.keyA, fmt.Sprintf(`{"event": "message.received", "payload": {"message": {"id": "m%d", "conversationId": "cnv_p"}}}`, i)))
	}
	eventually(t, "the first event retried twice", func() bool { return r.hitCount() >= 3 })
	if code, out := s.do("PATCH", "/v1/webhooks/"+id, s.keyA, `{"status": "PAUSED"}`); code != http.StatusOK {
		t.Fatalf("pause: %d %v", code, out)
	}
	eventually(t, "all six owed events logged skipped", func() bool {
		log := s.logStatuses(s.keyA, id)
		for _, ev := range emitted {
			if log[ev] != "skipped" {
				return false
			}
		}
		return true
	})

	healthy.Store(true)
	if code, out := s.do("PATCH", "/v1/webhooks/"+id, s.keyA, `{"status": "ACTIVE"}`); code != http.StatusOK {
		t.Fatalf("resume: %d %v", code, out)
	}
	after := s.emit(s.keyA, `{"event": "message.received", "payload": {"message": {"id": "m7", "conversationId": "cnv_p"}}}`)
	eventually(t, "the event emitted after the resume delivered", func() bool { return s.logStatuses(s.keyA, id)[after] == "delivered" })
	if code, out := s.do("POST", "/v1/webhooks/"+id+"/recover", s.keyA, `{"since": "`+before+`"}`); code != http.StatusAccepted || out["count"].(float64) != 6 {
		t.Fatalf("recover: %d %v, want 202 counting 6", code, out)
	}
	eventually(t, "the six recovered", func() bool {
		log := s.logStatuses(s.keyA, id)
		for _, ev := range emitted {
			if log[ev] != "delivered" {
				return false
			}
		}
		return true
	})
	var replayed []string
	for _, ev := range r.accepted("cnv_p") {
		if ev != after {
			replayed = append(replayed, ev)
		}
	}
	if fmt.Sprint(replayed) != fmt.Sprint(emitted) {
		t.Errorf("recovered in the order\n%v\nwant the order emitted\n%v", replayed, emitted)
	}
}

// Emitters that never wait for a delivery, one per conversation and all at
// once, a receiver failing at random: each conversation's events are
// accepted in the order of their 202s, however their workflows are
// scheduled. (An event whose workflow ran before an earlier one's would
// otherwise go first.)
func TestOrderingWithConcurrentEmitters(t *testing.T) {
	s := newStack(t, stackOptions{})
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(3, 5))
	r := newOrderReceiver(t, func(_ string, attempt int) bool {
		mu.Lock()
		defer mu.Unlock()
		return attempt < 3 && rng.Float64() < 0.3
	})
	s.createWebhook(s.keyA, map[string]any{"url": r.URL, "events": []string{"conversation.*", "message.*"}, "ordering": "conversation"})
	const conversations, perConversation = 6, 12
	emitted := make([][]string, conversations)
	var wg sync.WaitGroup
	for c := range conversations {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perConversation {
				body := fmt.Sprintf(`{"event": "conversation.updated", "payload": {"conversation": {"id": "cnv_%d", "n": %d}}}`, c, i)
				code, out := s.do("POST", "/v1/events", s.keyA, body)
				if code != http.StatusAccepted {
					t.Errorf("emit: %d %v", code, out)
					return
				}
				emitted[c] = append(emitted[c], out["id"].(string))
			}
		}()
	}
	wg.Wait()
	for c := range conversations {
		conv := fmt.Sprintf("cnv_%d", c)
		eventually(t, conv+" delivered", func() bool { return len(r.accepted(conv)) == perConversation })
		if got := r.accepted(conv); fmt.Sprint(got) != fmt.Sprint(emitted[c]) {
			t.Errorf("%s accepted in the order\n%v\nwant the order of the 202s\n%v", conv, got, emitted[c])
		}
	}
}

// A conversation id that is not plain ASCII, holds control characters or
// is very long is queued and delivered in order like any other, and holds
// up none of the workspace's unordered webhooks.
func TestOrderingAnyConversationID(t *testing.T) {
	s := newStack(t, stackOptions{eager: true})
	r := newOrderReceiver(t, func(string, int) bool { return false })
	plain := newReceiver(t, ok)
	s.createWebhook(s.keyA, map[string]any{"url": r.URL, "events": []string{"*"}, "ordering": "conversation"})
	s.webhook(s.keyA, plain.URL, "*")
	long := make([]byte, 600)
	for i := range long {
		long[i] = 'a' + byte(i%26)
	}
	for _, conv := range []string{"cnv_é", "cnv_\u202e\u0001tab\t", "cnv_🙂", "cnv_%41", "cnv_A", string(long)} {
		b, _ := json.Marshal(map[string]any{"event": "conversation.updated", "payload": map[string]any{"conversation": map[string]any{"id": conv}}})
		var ids []string
		for range 2 {
			ids = append(ids, s.emit(s.keyA, string(b)))
		}
		if len(conv) > models.MaxConversationID {
			// Longer than ordering keys on: delivered, in any order.
			eventually(t, "the long id's events delivered", func() bool {
				got := r.accepted(conv)
				slices.Sort(got)
				want := slices.Sorted(slices.Values(ids))
				return fmt.Sprint(got) == fmt.Sprint(want)
			})
		} else {
			eventually(t, fmt.Sprintf("%q delivered in order", conv), func() bool { return fmt.Sprint(r.accepted(conv)) == fmt.Sprint(ids) })
		}
		for _, id := range ids {
			if res := s.wait(id); len(res.Webhooks) != 2 {
				t.Errorf("%q: event %s: %+v", conv, id, res)
			}
			if plain.eventIDs()[id] != 1 {
				t.Errorf("%q: the unordered webhook got event %s %d times", conv, id, plain.eventIDs()[id])
			}
		}
	}
}

// Queueing an event for its ordered webhooks never holds up its other
// webhooks: with the ordered webhook's row locked (its queueing waits on
// the lock), the unordered webhook gets the event at once, and the
// ordered one once the lock goes. Queueing used to come first, so that a
// queueing that waited held up every webhook of the event.
func TestQueueingForOrderedWebhooksHoldsUpNoOther(t *testing.T) {
	s := newStack(t, stackOptions{eager: true})
	r := newOrderReceiver(t, func(string, int) bool { return false })
	plain := newReceiver(t, ok)
	ordered := s.createWebhook(s.keyA, map[string]any{"url": r.URL, "events": []string{"*"}, "ordering": "conversation"})["id"].(string)
	s.webhook(s.keyA, plain.URL, "*")

	db, err := sql.Open("pgx", s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.Exec("SELECT id FROM webhooks WHERE id = $1 FOR UPDATE", ordered); err != nil {
		t.Fatal(err)
	}
	id := s.emit(s.keyA, `{"event": "conversation.updated", "payload": {"conversation": {"id": "cnv_held"}}}`)
	eventually(t, "the unordered webhook's delivery while the ordered one's queueing waits", func() bool { return plain.eventIDs()[id] == 1 })
	if got := r.accepted("cnv_held"); len(got) != 0 {
		t.Fatalf("the ordered webhook got %v while its row was locked", got)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the ordered webhook's delivery once the lock went", func() bool { return fmt.Sprint(r.accepted("cnv_held")) == fmt.Sprint([]string{id}) })
	if res := s.wait(id); len(res.Webhooks) != 2 {
		t.Errorf("outcomes %+v: want the unordered delivery and the queued one", res.Webhooks)
	}
}
