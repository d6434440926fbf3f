package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/workflows"
)

func TestAnotherWorkspacesKeyFindsNothingAndChangesNothing(t *testing.T) {
	s := newStack(t, stackOptions{})
	r := newReceiver(t, ok)
	id, _ := s.webhook(s.keyA, r.URL, "*")
	_, before := s.do("GET", "/v1/webhooks/"+id, s.keyA, "")
	_, secretBefore := s.do("GET", "/v1/webhooks/"+id+"/secret", s.keyA, "")
	routes := []struct{ method, path, body string }{
		{"GET", "/v1/webhooks/" + id, ""},
		{"PATCH", "/v1/webhooks/" + id, `{"status": "PAUSED"}`},
		{"DELETE", "/v1/webhooks/" + id, ""},
		{"GET", "/v1/webhooks/" + id + "/secret", ""},
		{"POST", "/v1/webhooks/" + id + "/rotate-secret", `{"gracePeriod": "0s"}`},
	}
	for _, rt := range routes {
		code, out := s.do(rt.method, rt.path, s.keyB, rt.body)
		if code != http.StatusNotFound || out["error"].(map[string]any)["code"] != "not_found" {
			t.Errorf("%s %s with workspace B's key = %d %v, want 404 not_found", rt.method, rt.path, code, out)
		}
	}
	_, after := s.do("GET", "/v1/webhooks/"+id, s.keyA, "")
	_, secretAfter := s.do("GET", "/v1/webhooks/"+id+"/secret", s.keyA, "")
	if fmt.Sprint(before) != fmt.Sprint(after) || fmt.Sprint(secretBefore) != fmt.Sprint(secretAfter) {
		t.Errorf("the webhook changed:\n%v\n%v\nsecret %v -> %v", before, after, secretBefore, secretAfter)
	}
}

func TestWebhookLifecycle(t *testing.T) {
	s := newStack(t, stackOptions{})
	code, w := s.do("POST", "/v1/webhooks", s.keyA, `{"url": "https://hooks.example.com/tidy", "events": ["conversation.created", "message.*"]}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, w)
	}
	id := w["id"].(string)
	if w["displayName"] != "hooks.example.com" || fmt.Sprint(w["events"]) != "[CONVERSATION_CREATED MESSAGE_*]" || !strings.HasPrefix(w["secret"].(string), "whsec_") {
		t.Errorf("created webhook = %v", w)
	}
	code, p := s.do("PATCH", "/v1/webhooks/"+id, s.keyA, `{"displayName": "Tidy", "status": "paused"}`)
	if code != http.StatusOK || p["displayName"] != "Tidy" || p["status"] != "PAUSED" || p["pausedReason"] == nil || p["url"] != "https://hooks.example.com/tidy" || fmt.Sprint(p["events"]) != "[CONVERSATION_CREATED MESSAGE_*]" {
		t.Errorf("patch: %d %v", code, p)
	}
	if _, ok := p["secret"]; ok {
		t.Error("PATCH answer shows the secret")
	}
	code, p = s.do("PATCH", "/v1/webhooks/"+id, s.keyA, `{"status": "ACTIVE", "events": ["CONTACT_CREATED"], "url": "https://other.example.com/x"}`)
	if code != http.StatusOK || p["status"] != "ACTIVE" || p["pausedReason"] != nil || fmt.Sprint(p["events"]) != "[CONTACT_CREATED]" || p["url"] != "https://other.example.com/x" || p["displayName"] != "Tidy" {
		t.Errorf("second patch: %d %v", code, p)
	}
	code, sec := s.do("GET", "/v1/webhooks/"+id+"/secret", s.keyA, "")
	if code != http.StatusOK || sec["secret"] != w["secret"] {
		t.Errorf("secret = %d %v, want the one created", code, sec)
	}
	if code, _ := s.do("DELETE", "/v1/webhooks/"+id, s.keyA, ""); code != http.StatusNoContent {
		t.Errorf("delete = %d", code)
	}
	if code, _ := s.do("GET", "/v1/webhooks/"+id, s.keyA, ""); code != http.StatusNotFound {
		t.Errorf("GET after delete = %d, want 404", code)
	}
	if code, _ := s.do("DELETE", "/v1/webhooks/"+id, s.keyA, ""); code != http.StatusNotFound {
		t.Errorf("second delete = %d, want 404", code)
	}
}

func TestWebhookLimitPerWorkspace(t *testing.T) {
	s := newStack(t, stackOptions{maxWebhooks: 2})
	for i := range 2 {
		s.webhook(s.keyA, fmt.Sprintf("https://example.com/%d", i), "*")
	}
	code, out := s.do("POST", "/v1/webhooks", s.keyA, `{"url": "https://example.com/3", "events": ["*"]}`)
	if code != http.StatusConflict || out["error"].(map[string]any)["code"] != "limit_reached" {
		t.Errorf("third webhook = %d %v, want 409 limit_reached", code, out)
	}
	s.webhook(s.keyB, "https://example.com/b", "*") // another workspace has its own allowance
}

func TestManagementBadInput(t *testing.T) {
	s := newStack(t, stackOptions{})
	id, _ := s.webhook(s.keyA, "https://example.com/x", "*")
	w := "/v1/webhooks/" + id
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"patch nothing", "PATCH", w, `{}`, 422, "invalid_field"},
		{"patch malformed", "PATCH", w, `{"url": `, 400, "malformed_request"},
		{"patch unknown field", "PATCH", w, `{"colour": "red"}`, 422, "invalid_field"},
		{"patch url type", "PATCH", w, `{"url": 5}`, 422, "invalid_field"},
		{"patch bad url", "PATCH", w, `{"url": "gopher://example.com"}`, 422, "invalid_field"},
		{"patch url with credentials", "PATCH", w, `{"url": "https://user:pw@example.com"}`, 422, "invalid_field"},
		{"patch url too long", "PATCH", w, `{"url": "https://example.com/` + strings.Repeat("a", 2100) + `"}`, 422, "invalid_field"},
		{"patch empty events", "PATCH", w, `{"events": []}`, 422, "invalid_field"},
		{"patch unknown event", "PATCH", w, `{"events": ["conversation.exploded"]}`, 422, "invalid_field"},
		{"patch events type", "PATCH", w, `{"events": "CONVERSATION_CREATED"}`, 422, "invalid_field"},
		{"patch too many events", "PATCH", w, `{"events": [` + strings.Repeat(`"*",`, 64) + `"*"]}`, 422, "invalid_field"},
		{"patch bad status", "PATCH", w, `{"status": "DISABLED"}`, 422, "invalid_field"},
		{"patch long name", "PATCH", w, `{"displayName": "` + strings.Repeat("n", 129) + `"}`, 422, "invalid_field"},
		{"patch unknown webhook", "PATCH", "/v1/webhooks/wh_nope", `{"status": "PAUSED"}`, 404, "not_found"},
		{"create name type", "POST", "/v1/webhooks", `{"url": "https://example.com", "events": ["*"], "displayName": 3}`, 422, "invalid_field"},
		{"create unknown field", "POST", "/v1/webhooks", `{"url": "https://example.com", "events": ["*"], "secret": "whsec_x"}`, 422, "invalid_field"},
		{"create without url", "POST", "/v1/webhooks", `{"events": ["*"]}`, 422, "invalid_field"},
		{"create body too large", "POST", "/v1/webhooks", `{"url": "https://example.com", "events": ["*"], "displayName": "` + strings.Repeat("n", 70<<10) + `"}`, 413, "too_large"},
		{"rotate negative grace", "POST", w + "/rotate-secret", `{"gracePeriod": "-1h"}`, 422, "invalid_field"},
		{"rotate grace too long", "POST", w + "/rotate-secret", `{"gracePeriod": "169h"}`, 422, "invalid_field"},
		{"rotate grace not a duration", "POST", w + "/rotate-secret", `{"gracePeriod": "a day"}`, 422, "invalid_field"},
		{"rotate grace as number", "POST", w + "/rotate-secret", `{"gracePeriod": 86400}`, 422, "invalid_field"},
		{"rotate unknown field", "POST", w + "/rotate-secret", `{"grace": "1h"}`, 422, "invalid_field"},
		{"list limit too big", "GET", "/v1/webhooks?limit=101", ``, 422, "invalid_field"},
		{"list limit not a number", "GET", "/v1/webhooks?limit=ten", ``, 422, "invalid_field"},
		{"list forged cursor", "GET", "/v1/webhooks?cursor=" + strings.Repeat("A", 400), ``, 422, "invalid_field"},
		{"secret of unknown webhook", "GET", "/v1/webhooks/wh_nope/secret", ``, 404, "not_found"},
		{"delete unknown webhook", "DELETE", "/v1/webhooks/wh_nope", ``, 404, "not_found"},
		{"wrong method on secret", "POST", w + "/secret", ``, 405, "method_not_allowed"},
	}
	_, before := s.do("GET", w, s.keyA, "")
	_, secretBefore := s.do("GET", w+"/secret", s.keyA, "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := s.do(tt.method, tt.path, s.keyA, tt.body)
			e, _ := out["error"].(map[string]any)
			if code != tt.status || e == nil || e["code"] != tt.code {
				t.Errorf("= %d %v, want %d %s", code, out, tt.status, tt.code)
			}
		})
	}
	_, after := s.do("GET", w, s.keyA, "")
	_, secretAfter := s.do("GET", w+"/secret", s.keyA, "")
	if fmt.Sprint(before) != fmt.Sprint(after) || fmt.Sprint(secretBefore) != fmt.Sprint(secretAfter) {
		t.Errorf("bad requests changed the webhook:\n%v\n%v", before, after)
	}
	page, _ := s.store.ListWebhooks(context.Background(), "wrk_a", "", 100)
	if len(page.Items) != 1 {
		t.Errorf("%d webhooks after bad creates, want 1", len(page.Items))
	}
}

func TestRotationSignsWithEverySecretDuringTheGracePeriod(t *testing.T) {
	s := newStack(t, stackOptions{})
	r := newReceiver(t, ok)
	id, first := s.webhook(s.keyA, r.URL, "*")
	code, rot := s.do("POST", "/v1/webhooks/"+id+"/rotate-secret", s.keyA, `{"gracePeriod": "1h"}`)
	if code != http.StatusOK {
		t.Fatalf("rotate: %d %v", code, rot)
	}
	second := rot["secret"].(string)
	_, sec := s.do("GET", "/v1/webhooks/"+id+"/secret", s.keyA, "")
	if sec["secret"] != second || len(sec["previous"].([]any)) != 1 {
		t.Errorf("secret during grace = %v, want the new one current and the old one listed", sec)
	}
	s.wait(s.emit(s.keyA, `{"event": "contact.created", "payload": {}}`))
	d := r.deliveries()[0]
	if n := len(strings.Fields(d.header.Get("webhook-signature"))); n != 2 {
		t.Errorf("webhook-signature has %d entries during the grace period, want 2", n)
	}
	for name, secret := range map[string]string{"old": first, "new": second} {
		wh, _ := standardwebhooks.NewWebhook(secret)
		if err := wh.Verify(d.body, d.header); err != nil {
			t.Errorf("a receiver verifying with the %s secret rejects the delivery: %v", name, err)
		}
	}

	// Rotating with no grace period ends both earlier secrets at once.
	_, rot = s.do("POST", "/v1/webhooks/"+id+"/rotate-secret", s.keyA, `{"gracePeriod": "0s"}`)
	third := rot["secret"].(string)
	s.wait(s.emit(s.keyA, `{"event": "contact.created", "payload": {}}`))
	d = r.deliveries()[1]
	if n := len(strings.Fields(d.header.Get("webhook-signature"))); n != 1 {
		t.Errorf("webhook-signature has %d entries after the grace period, want 1", n)
	}
	for name, secret := range map[string]string{"first": first, "second": second, "third": third} {
		wh, _ := standardwebhooks.NewWebhook(secret)
		err := wh.Verify(d.body, d.header)
		if (name == "third") != (err == nil) {
			t.Errorf("after the grace period, verifying with the %s secret: %v", name, err)
		}
	}
}

func TestConcurrentPatchesNeverMix(t *testing.T) {
	s := newStack(t, stackOptions{})
	id, _ := s.webhook(s.keyA, "https://example.com/x", "*")
	a := `{"url": "https://a.example.com/", "displayName": "A", "events": ["CONVERSATION_CREATED"], "status": "PAUSED"}`
	b := `{"url": "https://b.example.com/", "displayName": "B", "events": ["MESSAGE_CREATED"], "status": "ACTIVE"}`
	for round := range 20 {
		var wg sync.WaitGroup
		for _, body := range []string{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if code, out := s.do("PATCH", "/v1/webhooks/"+id, s.keyA, body); code != http.StatusOK {
					t.Errorf("round %d: patch = %d %v", round, code, out)
				}
			}()
		}
		wg.Wait()
		_, w := s.do("GET", "/v1/webhooks/"+id, s.keyA, "")
		got := fmt.Sprintf("%v %v %v %v", w["url"], w["displayName"], w["events"], w["status"])
		if got != "https://a.example.com/ A [CONVERSATION_CREATED] PAUSED" && got != "https://b.example.com/ B [MESSAGE_CREATED] ACTIVE" {
			t.Fatalf("round %d: webhook is a mix of both patches: %s", round, got)
		}
		// The subscriptions used for matching agree with the stored state.
		conv, _ := models.LookupEvent("CONVERSATION_CREATED")
		msg, _ := models.LookupEvent("MESSAGE_CREATED")
		convMatch, err1 := s.store.MatchWebhooks(context.Background(), "wrk_a", conv, "")
		msgMatch, err2 := s.store.MatchWebhooks(context.Background(), "wrk_a", msg, "")
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		wantMsg := 0
		if w["status"] == "ACTIVE" {
			wantMsg = 1
		}
		if len(convMatch) != 0 || len(msgMatch) != wantMsg {
			t.Fatalf("round %d: state %s but matching finds %v for conversations and %v for messages", round, got, convMatch, msgMatch)
		}
	}
}

func TestRateLimitAndRequestIDs(t *testing.T) {
	s := newStack(t, stackOptions{rateLimit: 1})
	var limited *http.Response
	for range 10 {
		req, _ := http.NewRequest("GET", s.api.URL+"/v1/webhooks", nil)
		req.Header.Set("Authorization", "Bearer "+s.keyA)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("X-Request-Id") == "" {
			t.Error("response without X-Request-Id")
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			limited = resp
			break
		}
	}
	if limited == nil {
		t.Fatal("10 requests at once were never limited at 1/s")
	}
	if ra := limited.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("429 without a useful Retry-After: %q", ra)
	}
	// Workspace B's key has its own allowance.
	if code, _ := s.do("GET", "/v1/webhooks", s.keyB, ""); code != http.StatusOK {
		t.Errorf("another key = %d, want 200", code)
	}
	req, _ := http.NewRequest("GET", s.api.URL+"/v1/nothing", nil)
	req.Header.Set("X-Request-Id", "trace-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Error struct{ RequestID string } }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.Header.Get("X-Request-Id") != "trace-123" || body.Error.RequestID != "trace-123" {
		t.Errorf("request id = %q / %q, want the client's trace-123 echoed", resp.Header.Get("X-Request-Id"), body.Error.RequestID)
	}
}

func TestTestEndpointReportsTheAttempt(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := newStack(t, stackOptions{backend: backend, eager: true})
		okRcv := newReceiver(t, ok)
		failing := newReceiver(t, func(int) int { return http.StatusInternalServerError })
		refusing := newReceiver(t, ok)
		refusing.Close() // nothing listens there any more

		okID, secret := s.webhook(s.keyA, okRcv.URL, "conversation.created")
		failingID, _ := s.webhook(s.keyA, failing.URL, "*")
		refusingID, _ := s.webhook(s.keyA, refusing.URL, "*")
		// A paused webhook can be tested before it is turned on.
		if code, _ := s.do("PATCH", "/v1/webhooks/"+okID, s.keyA, `{"status": "PAUSED"}`); code != http.StatusOK {
			t.Fatal("pause")
		}
		tests := []struct {
			name      string
			id        string
			delivered bool
			status    any
			errPart   string
		}{
			{"200", okID, true, float64(200), ""},
			{"500", failingID, false, float64(500), "500"},
			{"refused", refusingID, false, nil, "refused"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				code, out := s.do("POST", "/v1/webhooks/"+tt.id+"/test", s.keyA, "")
				if code != http.StatusOK {
					t.Fatalf("test = %d %v", code, out)
				}
				wantURL := "http://ui.test/namespaces/default/workflows/" + workflows.EventWorkflowID("wrk_a", fmt.Sprint(out["eventId"])) + "/"
				if u, _ := out["workflowUrl"].(string); !strings.HasPrefix(u, wantURL) || !strings.HasSuffix(u, "/history") {
					t.Errorf("workflowUrl = %v, want %s<run>/history", out["workflowUrl"], wantURL)
				}
				if out["delivered"] != tt.delivered || out["statusCode"] != tt.status || out["event"] != "testing.connection" {
					t.Errorf("answer = %v, want delivered %v, statusCode %v", out, tt.delivered, tt.status)
				}
				if e, _ := out["error"].(string); !strings.Contains(e, tt.errPart) || (tt.errPart == "") != (out["error"] == nil) {
					t.Errorf("error = %v, want one mentioning %q", out["error"], tt.errPart)
				}
				// The test is in the webhook's delivery log too.
				code, list := s.do("GET", "/v1/webhooks/"+tt.id+"/deliveries?event=testing.connection", s.keyA, "")
				items := items(list, "deliveries")
				wantStatus := map[bool]string{true: "delivered", false: "failed"}[tt.delivered]
				if code != http.StatusOK || len(items) != 1 || items[0]["eventId"] != out["eventId"] || items[0]["status"] != wantStatus {
					t.Fatalf("log of the test = %d %v, want one %s delivery", code, list, wantStatus)
				}
				code, d := s.do("GET", "/v1/deliveries/"+fmt.Sprint(items[0]["id"]), s.keyA, "")
				if attempts := attemptsOf(d); code != http.StatusOK || len(attempts) != 1 || attempts[0]["trigger"] != "test" || attempts[0]["statusCode"] != tt.status {
					t.Errorf("test delivery = %d %v", code, d)
				}
			})
		}
		got := okRcv.deliveries()
		if len(got) != 1 || got[0].header.Get("X-TidySupport-Event") != "testing.connection" {
			t.Fatalf("the 200 receiver got %d requests", len(got))
		}
		wh, _ := standardwebhooks.NewWebhook(secret)
		if err := wh.Verify(got[0].body, got[0].header); err != nil {
			t.Errorf("test event signature: %v", err)
		}
		if n := len(failing.deliveries()); n != 1 {
			t.Errorf("the failing receiver got %d requests, want 1 (a test is not retried)", n)
		}
		if code, _ := s.do("POST", "/v1/webhooks/"+okID+"/test", s.keyB, ""); code != http.StatusNotFound {
			t.Errorf("testing another workspace's webhook = %d, want 404", code)
		}
		if code, _ := s.do("POST", "/v1/webhooks/wh_nope/test", s.keyA, ""); code != http.StatusNotFound {
			t.Errorf("testing an unknown webhook = %d, want 404", code)
		}
	})
}
