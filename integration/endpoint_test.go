package integration_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/internal/testcerts"
	"github.com/tidysupport/tidyhooks/workflows"
)

// createWebhook creates a webhook from a JSON body and returns the answer.
func (s *stack) createWebhook(key string, body map[string]any) map[string]any {
	s.t.Helper()
	b, _ := json.Marshal(body)
	code, out := s.do("POST", "/v1/webhooks", key, string(b))
	if code != http.StatusCreated {
		s.t.Fatalf("create webhook: %d %v", code, out)
	}
	return out
}

// emitContact emits a contact.created event to wrk_a and waits for its
// workflow.
func (s *stack) emitContact() (string, workflows.DeliverEventResult) {
	s.t.Helper()
	id := s.emit(s.platform, `{"event": "contact.created", "workspaceId": "wrk_a", "payload": {"contact": {"id": "c1"}}}`)
	return id, s.wait(id)
}

func TestCustomHeadersAndStaticAuthArriveAsConfigured(t *testing.T) {
	s := newStack(t, stackOptions{eager: true})
	basic, bearer := newReceiver(t, ok), newReceiver(t, ok)
	created := s.createWebhook(s.keyA, map[string]any{
		"url": basic.URL, "events": []string{"contact.created"},
		"headers": map[string]string{"x-api-key": "k-0123456789abcdef", "X-Tenant": "acme"},
		"auth":    map[string]string{"type": "basic", "username": "tidy", "password": "pa55-word-0123456789"},
	})
	// Shown masked.
	headers := created["headers"].(map[string]any)
	auth := created["auth"].(map[string]any)
	if headers["X-Api-Key"] != "••••cdef" || headers["X-Tenant"] != "••••" || auth["type"] != "basic" || auth["username"] != "tidy" || auth["password"] != "••••6789" {
		t.Errorf("created webhook shows headers %v, auth %v", headers, auth)
	}
	s.createWebhook(s.keyA, map[string]any{
		"url": bearer.URL, "events": []string{"contact.created"},
		"auth": map[string]string{"type": "bearer", "token": "tok-1"},
	})

	s.emitContact()
	got := basic.deliveries()
	if len(got) != 1 {
		t.Fatalf("basic receiver got %d requests", len(got))
	}
	h := got[0].header
	wantBasic := "Basic " + base64.StdEncoding.EncodeToString([]byte("tidy:pa55-word-0123456789"))
	if h.Get("X-Api-Key") != "k-0123456789abcdef" || h.Get("X-Tenant") != "acme" || h.Get("Authorization") != wantBasic || h.Get("webhook-signature") == "" {
		t.Errorf("headers at the receiver: %v", h)
	}
	if got := bearer.deliveries(); len(got) != 1 || got[0].header.Get("Authorization") != "Bearer tok-1" || got[0].header.Get("X-Api-Key") != "" {
		t.Errorf("bearer receiver got %v", got)
	}

	// Rotating: a patch changes one header, removes another and replaces
	// the auth; the next delivery carries the new values.
	id := created["id"].(string)
	code, out := s.do("PATCH", "/v1/webhooks/"+id, s.keyA, `{"headers": {"X-Tenant": null, "X-Api-Key": "k-new"}, "auth": {"type": "bearer", "token": "rotated"}}`)
	if code != http.StatusOK || out["auth"].(map[string]any)["type"] != "bearer" || len(out["headers"].(map[string]any)) != 1 {
		t.Fatalf("patch: %d %v", code, out)
	}
	s.emitContact()
	got = basic.deliveries()
	if h := got[len(got)-1].header; len(got) != 2 || h.Get("X-Api-Key") != "k-new" || h.Get("X-Tenant") != "" || h.Get("Authorization") != "Bearer rotated" {
		t.Errorf("after the rotation: %d requests, last headers %v", len(got), got[len(got)-1].header)
	}
	// Removing both.
	if code, out := s.do("PATCH", "/v1/webhooks/"+id, s.keyA, `{"headers": null, "auth": null}`); code != http.StatusOK || out["headers"] != nil || out["auth"] != nil {
		t.Fatalf("remove headers and auth: %d %v", code, out)
	}
}

func TestEndpointSettingsBadInputChangesNothing(t *testing.T) {
	s := newStack(t, stackOptions{})
	r := newReceiver(t, ok)
	created := s.createWebhook(s.keyA, map[string]any{"url": r.URL, "events": []string{"*"}, "headers": map[string]string{"X-A": "1"}})
	id := created["id"].(string)
	for _, tt := range []struct{ body, field string }{
		{`{"url": "` + r.URL + `", "events": ["*"], "headers": {"webhook-signature": "v1,x"}}`, "headers.webhook-signature"},
		{`{"url": "` + r.URL + `", "events": ["*"], "headers": {"X-A": "a\r\nb"}}`, "headers.X-A"},
		{`{"url": "` + r.URL + `", "events": ["*"], "headers": {"X-A": 1}}`, "headers"},
		{`{"url": "` + r.URL + `", "events": ["*"], "auth": {"type": "digest"}}`, "auth.type"},
		{`{"url": "` + r.URL + `", "events": ["*"], "headers": {"Authorization": "Token x"}, "auth": {"type": "bearer", "token": "t"}}`, "headers.Authorization"},
		{`{"url": "` + r.URL + `", "events": ["*"], "auth": {"type": "bearer", "tokn": "x"}}`, "auth.tokn"},
		{`{"url": "` + r.URL + `", "events": ["*"], "auth": {"type": "basic", "username": "u", "token": "x"}}`, "auth.token"},
		{`{"url": "` + r.URL + `", "events": ["*"], "auth": {"type": "mtls", "certificatePem": "x", "privateKeyPem": "y"}}`, "auth.certificatePem"},
		{`{"url": "` + r.URL + `", "events": ["*"], "auth": {"type": "oauth2", "tokenUrl": "ftp://x", "clientId": "a", "clientSecret": "b"}}`, "auth.tokenUrl"},
	} {
		code, out := s.do("POST", "/v1/webhooks", s.keyA, tt.body)
		if code != http.StatusUnprocessableEntity || !strings.HasPrefix(errorMessage(out), tt.field+":") {
			t.Errorf("create with %s: %d %v, want 422 naming %s", tt.body, code, out, tt.field)
		}
	}
	for _, tt := range []struct{ body, field string }{
		{`{"headers": {"Host": "x"}}`, "headers.Host"},
		{`{"headers": ["X-A"]}`, "headers"},
		{`{"headers": {"X-B": "2"}, "auth": {"type": "bearer"}}`, "auth.token"},
		{`{"auth": "bearer"}`, "auth"},
	} {
		code, out := s.do("PATCH", "/v1/webhooks/"+id, s.keyA, tt.body)
		if code != http.StatusUnprocessableEntity || !strings.HasPrefix(errorMessage(out), tt.field+":") {
			t.Errorf("patch with %s: %d %v, want 422 naming %s", tt.body, code, out, tt.field)
		}
	}
	_, out := s.do("GET", "/v1/webhooks/"+id, s.keyA, "")
	if h, _ := out["headers"].(map[string]any); len(h) != 1 || h["X-A"] != "••••" || out["auth"] != nil {
		t.Errorf("after refused changes the webhook is %v", out)
	}
	_, list := s.do("GET", "/v1/webhooks", s.keyA, "")
	if items := list["webhooks"].(map[string]any)["items"].([]any); len(items) != 1 {
		t.Errorf("%d webhooks after refused creates, want the one", len(items))
	}
}

// errorMessage is an error answer's message.
func errorMessage(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

func TestMTLSDeliversWithTheClientCertificateOnly(t *testing.T) {
	serverCA, clientCA := testcerts.NewCA(t, "server CA"), testcerts.NewCA(t, "client CA")
	s := newStack(t, stackOptions{eager: true, rootCAs: serverCA.Pool})
	var mu sync.Mutex
	var subjects []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		subjects = append(subjects, r.TLS.PeerCertificates[0].Subject.CommonName)
		mu.Unlock()
	}))
	srv.TLS = testcerts.RequireClientCert(t, serverCA.Server(t), clientCA)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes refused on purpose
	srv.StartTLS()
	t.Cleanup(srv.Close)

	cert := clientCA.Client(t, "tidyhooks-wrk_a", time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour))
	withCert := s.createWebhook(s.keyA, map[string]any{
		"url": srv.URL + "/with", "events": []string{"contact.created"},
		"auth": map[string]string{"type": "mtls", "certificatePem": string(cert.CertPEM), "privateKeyPem": string(cert.KeyPEM)},
	})
	shown := withCert["auth"].(map[string]any)
	if shown["certificateSubject"] != "CN=tidyhooks-wrk_a" || shown["certificateExpiresAt"] == nil || shown["privateKeyPem"] != nil || shown["certificatePem"] == nil {
		t.Errorf("mtls auth shown as %v", shown)
	}
	without := s.createWebhook(s.keyA, map[string]any{"url": srv.URL + "/without", "events": []string{"contact.created"}})

	_, res := s.emitContact()
	outcomes := map[string]workflows.WebhookOutcome{}
	for _, o := range res.Webhooks {
		outcomes[o.WebhookID] = o
	}
	if o := outcomes[withCert["id"].(string)]; o.Outcome != workflows.OutcomeDelivered {
		t.Errorf("with the certificate: %+v", o)
	}
	mu.Lock()
	if len(subjects) != 1 || subjects[0] != "tidyhooks-wrk_a" {
		t.Errorf("the server saw client certificates %v", subjects)
	}
	mu.Unlock()
	// Without one the attempt fails, saying why; the log keeps it.
	if o := outcomes[without["id"].(string)]; o.Outcome != workflows.OutcomeFailed || !strings.Contains(o.Error, "client certificate") {
		t.Errorf("without a certificate: %+v", o)
	}
}

// tokenServer is a local OAuth2 token endpoint: it issues tokens that
// live for life to client "client-1" with secret "secret-1", and counts
// what it issued.
type tokenServer struct {
	*httptest.Server
	mu     sync.Mutex
	issued []string
	life   int // seconds
}

func newTokenServer(t *testing.T, life int) *tokenServer {
	ts := &tokenServer{life: life}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if err := r.ParseForm(); err != nil || !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		w.Header().Set("Content-Type", "application/json")
		if id != "client-1" || secret != "secret-1" || r.PostForm.Get("grant_type") != "client_credentials" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error": "invalid_client", "error_description": "bad client credentials"}`)
			return
		}
		ts.mu.Lock()
		token := fmt.Sprintf("token-%d-%s-%s", len(ts.issued)+1, r.PostForm.Get("scope"), r.PostForm.Get("audience"))
		ts.issued = append(ts.issued, token)
		ts.mu.Unlock()
		fmt.Fprintf(w, `{"access_token": %q, "token_type": "Bearer", "expires_in": %d}`, token, ts.life)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) tokens() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.issued...)
}

func TestOAuth2TokenIsFetchedOnceRefreshedAndRefusedClearly(t *testing.T) {
	s := newStack(t, stackOptions{eager: true})
	ts := newTokenServer(t, 3600)
	// The endpoint accepts the tokens the token server issued and has not
	// revoked.
	var mu sync.Mutex
	revoked := map[string]bool{}
	r := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		token := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
		mu.Lock()
		valid := !revoked[token] && strings.HasPrefix(token, "token-")
		mu.Unlock()
		if !valid {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(r.Close)
	oauth := map[string]any{"type": "oauth2", "tokenUrl": ts.URL + "/token", "clientId": "client-1", "clientSecret": "secret-1",
		"scopes": []string{"hooks:write"}, "audience": "crm"}
	created := s.createWebhook(s.keyA, map[string]any{"url": r.URL, "events": []string{"contact.created"}, "auth": oauth})
	if shown := created["auth"].(map[string]any); shown["clientSecret"] != "••••" || shown["clientId"] != "client-1" {
		t.Errorf("oauth2 auth shown as %v", shown)
	}

	// Many deliveries, one token.
	for range 5 {
		if _, res := s.emitContact(); res.Webhooks[0].Outcome != workflows.OutcomeDelivered {
			t.Fatalf("delivery: %+v", res)
		}
	}
	if issued := ts.tokens(); len(issued) != 1 || issued[0] != "token-1-hooks:write-crm" {
		t.Fatalf("token endpoint issued %v, want one token for five deliveries", issued)
	}

	// A 401 to the token: a new one is fetched and the attempt succeeds.
	mu.Lock()
	revoked["token-1-hooks:write-crm"] = true
	mu.Unlock()
	if _, res := s.emitContact(); res.Webhooks[0].Outcome != workflows.OutcomeDelivered || res.Webhooks[0].Attempts != 1 {
		t.Fatalf("delivery after the token was revoked: %+v", res)
	}
	if issued := ts.tokens(); len(issued) != 2 {
		t.Fatalf("after a 401 the token endpoint issued %v, want a second token", issued)
	}

	// A bad client secret: the attempt fails, saying so, and the secret
	// is not in the error.
	id := created["id"].(string)
	bad := map[string]any{"type": "oauth2", "tokenUrl": ts.URL + "/token", "clientId": "client-1", "clientSecret": "wrong-secret"}
	b, _ := json.Marshal(map[string]any{"auth": bad})
	if code, out := s.do("PATCH", "/v1/webhooks/"+id, s.keyA, string(b)); code != http.StatusOK {
		t.Fatalf("patch: %d %v", code, out)
	}
	_, res := s.emitContact()
	if o := res.Webhooks[0]; !strings.Contains(o.Error, "refused the client credentials: 401") || !strings.Contains(o.Error, "invalid_client") || strings.Contains(o.Error, "wrong-secret") {
		t.Errorf("with a bad client secret: %+v", o)
	}
}

// A token is used until shortly before it expires, then fetched anew.
func TestOAuth2TokenIsRefreshedBeforeItExpires(t *testing.T) {
	s := newStack(t, stackOptions{eager: true})
	ts := newTokenServer(t, 31) // usable for one second: 30 s are kept in reserve
	r := newReceiver(t, ok)
	s.createWebhook(s.keyA, map[string]any{"url": r.URL, "events": []string{"contact.created"},
		"auth": map[string]any{"type": "oauth2", "tokenUrl": ts.URL, "clientId": "client-1", "clientSecret": "secret-1"}})
	s.emitContact()
	s.emitContact()
	if n := len(ts.tokens()); n != 1 {
		t.Fatalf("%d tokens for two deliveries within the token's life", n)
	}
	time.Sleep(1500 * time.Millisecond)
	s.emitContact()
	issued := ts.tokens()
	got := r.deliveries()
	if len(issued) != 2 || got[2].header.Get("Authorization") != "Bearer "+issued[1] {
		t.Errorf("after expiry: tokens %v, last delivery's Authorization %q", issued, got[len(got)-1].header.Get("Authorization"))
	}
}

func TestPayloadFilterDecidesWhenTheEventIsProcessed(t *testing.T) {
	s := newStack(t, stackOptions{eager: true})
	filtered, all := newReceiver(t, ok), newReceiver(t, ok)
	created := s.createWebhook(s.keyA, map[string]any{"url": filtered.URL, "events": []string{"CONVERSATION_*"},
		"filter": map[string]any{
			"conversation.inboxId": "inb_sales",
			"conversation.channel": map[string]any{"in": []string{"email", "chat"}},
		}})
	if f, _ := created["filter"].(map[string]any); len(f) != 2 || f["conversation.inboxId"] != "inb_sales" {
		t.Fatalf("created webhook shows filter %v", created["filter"])
	}
	s.webhook(s.keyA, all.URL, "*")
	emit := func(inbox, channel string) string {
		id := s.emit(s.platform, fmt.Sprintf(`{"event": "conversation.created", "workspaceId": "wrk_a", "payload": {"conversation": {"id": "cnv_1", "inboxId": %q, "channel": %q}}}`, inbox, channel))
		s.wait(id)
		return id
	}
	sales, support, phone := emit("inb_sales", "email"), emit("inb_support", "email"), emit("inb_sales", "phone")
	if got := filtered.eventIDs(); len(got) != 1 || got[sales] != 1 {
		t.Errorf("filtered webhook got %v, want %s only", got, sales)
	}
	if got := all.eventIDs(); len(got) != 3 {
		t.Errorf("unfiltered webhook got %v, want all three", got)
	}
	// A filtered-out event leaves no delivery in the webhook's log.
	_, log := s.do("GET", "/v1/webhooks/"+created["id"].(string)+"/deliveries", s.keyA, "")
	if items := log["deliveries"].(map[string]any)["items"].([]any); len(items) != 1 {
		t.Errorf("filtered webhook's log holds %d deliveries, want 1", len(items))
	}

	// The filter changed: the next events are matched against the new one.
	id := created["id"].(string)
	if code, out := s.do("PATCH", "/v1/webhooks/"+id, s.keyA, `{"filter": {"conversation.channel": "phone", "conversation.closedAt": {"exists": false}}}`); code != http.StatusOK {
		t.Fatalf("patch filter: %d %v", code, out)
	}
	again := emit("inb_support", "phone")
	if got := filtered.eventIDs(); len(got) != 2 || got[again] != 1 || got[support] != 0 || got[phone] != 0 {
		t.Errorf("after the change the filtered webhook got %v", got)
	}
	if code, out := s.do("PATCH", "/v1/webhooks/"+id, s.keyA, `{"filter": {}}`); code != http.StatusOK || out["filter"] != nil {
		t.Fatalf("remove filter: %d %v", code, out)
	}

	for _, tt := range []struct{ body, field string }{
		{`{"filter": {"a": {"in": ["x"], "exists": true}}}`, "filter.a"},
		{`{"filter": {"a": {"in": ["x", {"y": 1}]}}}`, "filter.a.in[1]"},
		{`{"filter": {"a": ["x", "y"]}}`, "filter.a"},
		{`{"filter": {"a..b": {"exists": true}}}`, "filter"},
		{`{"filter": {"a": {"matches": ".*"}}}`, "filter.a.matches"},
		{`{"filter": {"a": {"prefix": ""}}}`, "filter.a.prefix"},
		{`{"filter": ["a"]}`, "filter"},
	} {
		code, out := s.do("PATCH", "/v1/webhooks/"+id, s.keyA, tt.body)
		if code != http.StatusUnprocessableEntity || !strings.HasPrefix(errorMessage(out), tt.field+":") {
			t.Errorf("patch with %s: %d %v, want 422 naming %s", tt.body, code, out, tt.field)
		}
	}
}
