package integration_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Moving a webhook's URL to another origin does not take its stored
// credentials along: a PATCH of the URL alone to a collector, then a test,
// used to hand the collector the Basic password and the custom header's
// value. The move is refused naming them, the collector gets nothing,
// and a move that gives them again goes through.
func TestURLMoveKeepsCredentialsHome(t *testing.T) {
	s := newStack(t, stackOptions{})
	home, collector := newReceiver(t, ok), newReceiver(t, ok)
	created := s.createWebhook(s.keyA, map[string]any{"url": home.URL + "/hook", "events": []string{"*"},
		"headers": map[string]string{"X-Api-Key": "k-0123456789abcdef"},
		"auth":    map[string]string{"type": "basic", "username": "tidy", "password": "pa55-word-0123456789"}})
	id := created["id"].(string)

	code, out := s.do("PATCH", "/v1/webhooks/"+id, s.keyA, `{"url": "`+collector.URL+`/steal"}`)
	if code != http.StatusUnprocessableEntity || !strings.Contains(errorMessage(out), "auth and headers X-Api-Key") {
		t.Fatalf("moving the URL alone = %d %v, want 422 naming the auth and the header", code, out)
	}
	if code, out := s.do("POST", "/v1/webhooks/"+id+"/test", s.keyA, ""); code != http.StatusOK || out["delivered"] != true {
		t.Fatalf("test after the refused move = %d %v", code, out)
	}
	if n := len(collector.deliveries()); n != 0 {
		t.Fatalf("the collector got %d requests", n)
	}
	if got := home.deliveries(); len(got) != 1 || got[0].header.Get("X-Api-Key") != "k-0123456789abcdef" {
		t.Fatalf("home got %d requests", len(got))
	}

	// Within the origin the URL moves freely; to another, with the
	// credentials given again (or removed), it moves.
	if code, out := s.do("PATCH", "/v1/webhooks/"+id, s.keyA, `{"url": "`+home.URL+`/other"}`); code != http.StatusOK {
		t.Fatalf("moving within the origin = %d %v", code, out)
	}
	body, _ := json.Marshal(map[string]any{"url": collector.URL + "/new", "auth": nil, "headers": map[string]any{"X-Api-Key": "k-for-the-new-place"}})
	if code, out := s.do("PATCH", "/v1/webhooks/"+id, s.keyA, string(body)); code != http.StatusOK {
		t.Fatalf("moving with the credentials given = %d %v", code, out)
	}
	if code, out := s.do("POST", "/v1/webhooks/"+id+"/test", s.keyA, ""); code != http.StatusOK || out["delivered"] != true {
		t.Fatalf("test after the move = %d %v", code, out)
	}
	got := collector.deliveries()
	if len(got) != 1 || got[0].header.Get("Authorization") != "" || got[0].header.Get("X-Api-Key") != "k-for-the-new-place" {
		t.Errorf("the new place got %d requests (%v)", len(got), got)
	}
}

// Token endpoint errors read as delivery errors do, naming no address or
// resolver; the way an endpoint takes the client credentials is learned
// once, so that a token endpoint that hangs holds an attempt for one
// request's timeout, not two; token requests name the product.
func TestOAuth2TokenEndpointErrorsAndAuthStyle(t *testing.T) {
	s := newStack(t, stackOptions{timeout: 2 * time.Second})
	r := newReceiver(t, ok)

	// Nothing listens there: the error says so, without the address.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/token"
	l.Close()
	refused := s.createWebhook(s.keyA, map[string]any{"url": r.URL, "events": []string{"*"},
		"auth": map[string]any{"type": "oauth2", "tokenUrl": closed, "clientId": "c", "clientSecret": "s"}})
	_, out := s.do("POST", "/v1/webhooks/"+refused["id"].(string)+"/test", s.keyA, "")
	msg, _ := out["error"].(string)
	if !strings.Contains(msg, "could not be reached: connection refused") || strings.Contains(msg, "dial") ||
		strings.Count(msg, "127.0.0.1") != 1 { // once, in the token URL the customer gave
		t.Errorf("unreachable token endpoint: %q", msg)
	}

	// An endpoint taking the credentials in the form only, which names
	// what sent each request.
	var mu sync.Mutex
	var headerTries, formTries, issued int
	var agents []string
	form := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_ = req.ParseForm()
		mu.Lock()
		defer mu.Unlock()
		agents = append(agents, req.UserAgent())
		if _, _, basic := req.BasicAuth(); basic {
			headerTries++
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error": "invalid_client"}`)
			return
		}
		formTries++
		issued++
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token": "t%d", "token_type": "Bearer", "expires_in": 3600}`, issued)
	}))
	t.Cleanup(form.Close)
	// The receiver refuses the first token, so a second is fetched.
	var refusedOnce sync.Once
	picky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		refusedOnce.Do(func() { w.WriteHeader(http.StatusUnauthorized) })
	}))
	t.Cleanup(picky.Close)
	hook := s.createWebhook(s.keyA, map[string]any{"url": picky.URL, "events": []string{"*"},
		"auth": map[string]any{"type": "oauth2", "tokenUrl": form.URL, "clientId": "c", "clientSecret": "s"}})
	if code, out := s.do("POST", "/v1/webhooks/"+hook["id"].(string)+"/test", s.keyA, ""); code != http.StatusOK || out["delivered"] != true {
		t.Fatalf("test with a form-only token endpoint = %d %v", code, out)
	}
	mu.Lock()
	if headerTries != 1 || formTries != 2 {
		t.Errorf("token requests: %d with the header, %d in the form; want the header tried once and then the form only", headerTries, formTries)
	}
	for _, a := range agents {
		if a != "TidySupport-Webhooks/test" {
			t.Errorf("a token request's User-Agent = %q", a)
		}
	}
	mu.Unlock()

	// An endpoint that hangs holds the attempt one request timeout.
	var hung int
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_ = req.ParseForm() // read the body: the server notices the client leave only then
		mu.Lock()
		hung++
		mu.Unlock()
		<-req.Context().Done()
	}))
	t.Cleanup(hang.Close)
	slow := s.createWebhook(s.keyA, map[string]any{"url": r.URL, "events": []string{"*"},
		"auth": map[string]any{"type": "oauth2", "tokenUrl": hang.URL, "clientId": "c", "clientSecret": "s"}})
	_, out = s.do("POST", "/v1/webhooks/"+slow["id"].(string)+"/test", s.keyA, "")
	msg, _ = out["error"].(string)
	mu.Lock()
	defer mu.Unlock()
	if hung != 1 || !strings.Contains(msg, "could not be reached: timed out after 2s") {
		t.Errorf("a hanging token endpoint: %d requests, error %q; want one request, timed out", hung, msg)
	}
}
