package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/tidysupport/tidyhooks/models"
)

// portalBrowser is an HTTP client holding a portal session's cookies, as
// the dashboard's page does.
type portalBrowser struct {
	s      *stack
	client *http.Client
}

func newPortalBrowser(s *stack) *portalBrowser {
	jar, _ := cookiejar.New(nil)
	return &portalBrowser{s: s, client: &http.Client{Jar: jar}}
}

// csrf is the CSRF cookie's value, which the page sends back as a header.
func (b *portalBrowser) csrf() string {
	u, _ := url.Parse(b.s.api.URL)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == "tidyhooks_portal_csrf" {
			return c.Value
		}
	}
	return ""
}

func (b *portalBrowser) do(method, path, body string, withCSRF bool) (int, map[string]any) {
	b.s.t.Helper()
	req, _ := http.NewRequest(method, b.s.api.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if withCSRF {
		req.Header.Set("X-CSRF-Token", b.csrf())
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	validateAnswer(b.s.t, req, resp.StatusCode, resp.Header, raw)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// openPortal asks for a portal link with key and opens it in b.
func (s *stack) openPortal(b *portalBrowser, key, body string) map[string]any {
	s.t.Helper()
	code, link := s.do("POST", "/v1/portal-sessions", key, body)
	if code != http.StatusCreated {
		s.t.Fatalf("portal session: %d %v", code, link)
	}
	u, _ := link["url"].(string)
	_, portalCode, ok := strings.Cut(u, "#/portal/")
	if !ok || !strings.HasPrefix(u, s.api.URL+"/dashboard/") {
		s.t.Fatalf("portal link = %q", u)
	}
	if code, out := b.do("POST", "/v1/portal/exchange", `{"code": "`+portalCode+`"}`, false); code != http.StatusOK || out["workspaceId"] != link["workspaceId"] {
		s.t.Fatalf("exchange: %d %v", code, out)
	}
	link["code"] = portalCode
	return link
}

// A platform key opens the portal on a workspace with a one-time link;
// the session sees that workspace only, changes need the CSRF token, a
// read-only session changes nothing, and signing out ends it.
func TestPortalSessions(t *testing.T) {
	s := newStack(t, stackOptions{portalOrigins: []string{"https://app.tidysupport.test"}})
	platform := s.newKey("", models.ScopePortal)
	r := newReceiver(t, ok)
	otherHook, _ := s.webhook(s.keyB, r.URL, "*")

	for _, bad := range []struct {
		key, body string
		code      int
		want      string
	}{
		{platform, `{}`, 422, "workspaceId: is required"},
		{platform, `{"workspaceId": "not a workspace!"}`, 422, "workspaceId"},
		{platform, `{"workspaceId": "wrk_a", "ttl": "30s"}`, 422, "ttl"},
		{platform, `{"workspaceId": "wrk_a", "ttl": "25h"}`, 422, "ttl"},
		{platform, `{"workspaceId": "wrk_a", "ttl": "soon"}`, 422, "ttl"},
		{platform, `{"workspaceId": "wrk_a", "returnUrl": "javascript:alert(1)"}`, 422, "returnUrl: must be an http or https URL"},
		{platform, `{"workspaceId": "wrk_a", "returnUrl": "https://evil.test/settings"}`, 422, "returnUrl: is not on an allowed origin"},
		{platform, `{"workspaceId": "wrk_a", "extra": 1}`, 422, "extra"},
		{s.keyA, `{"workspaceId": "wrk_b"}`, 404, "not found"},
		{s.emitOnlyA, `{}`, 403, "portal:write"},
		{s.platform, `{"workspaceId": "wrk_a"}`, 403, "portal:write"},
	} {
		if code, out := s.do("POST", "/v1/portal-sessions", bad.key, bad.body); code != bad.code || !strings.Contains(errorMessage(out), bad.want) {
			t.Errorf("portal session %s = %d %v, want %d naming %q", bad.body, code, out, bad.code, bad.want)
		}
	}

	b := newPortalBrowser(s)
	link := s.openPortal(b, platform, `{"workspaceId": "wrk_a", "ttl": "2h", "returnUrl": "https://app.tidysupport.test/settings/webhooks"}`)
	if link["ttl"] != "2h0m0s" || link["readOnly"] != false || link["returnUrl"] != "https://app.tidysupport.test/settings/webhooks" {
		t.Errorf("link = %v", link)
	}
	// The link opens one session only.
	if code, out := b.do("POST", "/v1/portal/exchange", `{"code": "`+link["code"].(string)+`"}`, false); code != http.StatusUnauthorized || !strings.Contains(errorMessage(out), "used already") {
		t.Errorf("second exchange = %d %v", code, out)
	}
	if code, out := b.do("POST", "/v1/portal/exchange", `{"code": "made-up"}`, false); code != http.StatusUnauthorized || !strings.Contains(errorMessage(out), "not valid") {
		t.Errorf("made-up code = %d %v", code, out)
	}
	if code, out := b.do("GET", "/v1/portal/session", "", false); code != http.StatusOK || out["workspaceId"] != "wrk_a" {
		t.Errorf("session = %d %v", code, out)
	}

	// Another workspace's data is not there.
	if code, _ := b.do("GET", "/v1/webhooks/"+otherHook, "", false); code != http.StatusNotFound {
		t.Errorf("wrk_b's webhook from a wrk_a portal = %d, want 404", code)
	}
	// A change without the CSRF token changes nothing; with it, it does.
	create := `{"url": "` + r.URL + `/portal", "events": ["*"]}`
	if code, out := b.do("POST", "/v1/webhooks", create, false); code != http.StatusForbidden || !strings.Contains(errorMessage(out), "X-CSRF-Token") {
		t.Errorf("create without CSRF = %d %v", code, out)
	}
	if _, list := b.do("GET", "/v1/webhooks", "", false); len(items(list, "webhooks")) != 0 {
		t.Fatalf("a change without CSRF went through: %v", list)
	}
	if code, out := b.do("POST", "/v1/webhooks", create, true); code != http.StatusCreated {
		t.Fatalf("create with CSRF = %d %v", code, out)
	}
	// A portal emits nothing and opens no other portal.
	if code, _ := b.do("POST", "/v1/events", `{"event": "contact.created", "payload": {}}`, true); code != http.StatusForbidden {
		t.Errorf("a portal emitting = %d, want 403", code)
	}
	if code, _ := b.do("POST", "/v1/portal-sessions", `{}`, true); code != http.StatusForbidden {
		t.Errorf("a portal opening a portal = %d, want 403", code)
	}
	if code, _ := b.do("POST", "/v1/portal/sign-out", "", true); code != http.StatusNoContent {
		t.Errorf("sign out = %d", code)
	}
	if code, _ := b.do("GET", "/v1/webhooks", "", false); code != http.StatusUnauthorized {
		t.Errorf("after signing out = %d, want 401", code)
	}

	// Read-only: reads, and nothing else.
	ro := newPortalBrowser(s)
	s.openPortal(ro, s.keyA, `{"readOnly": true}`)
	_, list := ro.do("GET", "/v1/webhooks", "", false)
	hooks := items(list, "webhooks")
	if len(hooks) != 1 {
		t.Fatalf("read-only list = %v", list)
	}
	id := hooks[0]["id"].(string)
	for _, change := range []struct{ method, path, body string }{
		{"POST", "/v1/webhooks", create},
		{"PATCH", "/v1/webhooks/" + id, `{"status": "PAUSED"}`},
		{"DELETE", "/v1/webhooks/" + id, ""},
		{"POST", "/v1/webhooks/" + id + "/test", ""},
		{"GET", "/v1/webhooks/" + id + "/secret", ""},
	} {
		if code, out := ro.do(change.method, change.path, change.body, true); code != http.StatusForbidden || !strings.Contains(errorMessage(out), "read-only") {
			t.Errorf("read-only %s %s = %d %v", change.method, change.path, code, out)
		}
	}
	if _, w := s.do("GET", "/v1/webhooks/"+id, s.keyA, ""); w["status"] != "ACTIVE" {
		t.Errorf("a read-only session changed the webhook: %v", w)
	}
	if code, _ := ro.do("POST", "/v1/portal/sign-out", "", true); code != http.StatusNoContent {
		t.Errorf("read-only sign out = %d", code)
	}
}

// Revoking the key that opened a portal ends the portal (a session
// opened with it used to list and change webhooks for up to a day, and
// its link still opened one after the revocation).
func TestRevokedKeyEndsItsPortal(t *testing.T) {
	s := newStack(t, stackOptions{})
	value := s.newKey("wrk_a", models.ScopeAPIUser)
	k, err := s.store.APIKeyByValue(context.Background(), value)
	if err != nil {
		t.Fatal(err)
	}
	b := newPortalBrowser(s)
	s.openPortal(b, value, `{}`)
	if code, _ := b.do("GET", "/v1/webhooks", "", false); code != http.StatusOK {
		t.Fatalf("the portal before the revocation = %d", code)
	}
	// The operator's Temporal UI is linked for API keys, never in a
	// portal (it named the operator's deployment to a customer's users).
	r := newReceiver(t, ok)
	hook, _ := s.webhook(value, r.URL, "*")
	if code, out := s.do("POST", "/v1/webhooks/"+hook+"/test", value, ""); code != http.StatusOK || out["workflowUrl"] == nil {
		t.Errorf("a key's test = %d %v, want a workflowUrl", code, out)
	}
	if code, out := b.do("POST", "/v1/webhooks/"+hook+"/test", "", true); code != http.StatusOK || out["workflowUrl"] != nil {
		t.Errorf("a portal's test = %d %v, want no workflowUrl", code, out)
	}
	if _, out := b.do("GET", "/v1/webhooks/"+hook+"/deliveries", "", false); strings.Contains(fmt.Sprint(out), "ui.test") {
		t.Errorf("a portal's delivery log links the Temporal UI: %v", out)
	}
	code, link := s.do("POST", "/v1/portal-sessions", value, `{}`)
	if code != http.StatusCreated {
		t.Fatalf("link = %d %v", code, link)
	}
	_, unspent, _ := strings.Cut(link["url"].(string), "#/portal/")

	if _, err := s.store.RevokeAPIKey(context.Background(), k.ID); err != nil {
		t.Fatal(err)
	}
	if code, _ := b.do("GET", "/v1/webhooks", "", false); code != http.StatusUnauthorized {
		t.Errorf("listing in a session of a revoked key = %d, want 401", code)
	}
	if code, _ := b.do("POST", "/v1/webhooks", `{"url": "https://example.com/x", "events": ["*"]}`, true); code != http.StatusUnauthorized {
		t.Errorf("creating in a session of a revoked key = %d, want 401", code)
	}
	later := newPortalBrowser(s)
	if code, out := later.do("POST", "/v1/portal/exchange", `{"code": "`+unspent+`"}`, false); code != http.StatusUnauthorized {
		t.Errorf("a link made before the revocation = %d %v, want 401", code, out)
	}
}
