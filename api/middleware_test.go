package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidysupport/tidyhooks/internal/testenv"
	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/store"
)

// countingStore is a real store that counts key lookups.
type countingStore struct {
	*store.Store
	lookups atomic.Int32
}

func (s *countingStore) APIKeyByValue(ctx context.Context, value string) (models.APIKey, error) {
	s.lookups.Add(1)
	return s.Store.APIKeyByValue(ctx, value)
}

func newTestAPI(t *testing.T, cfg Config) (http.Handler, *countingStore, string) {
	t.Helper()
	st, err := store.Open(context.Background(), testenv.SQLiteURL(t), store.Options{EncryptionKey: testenv.EncryptionKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	key, err := store.NewKeyValue()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateAPIKey(context.Background(), models.APIKey{WorkspaceID: "wrk_a", Scopes: []string{models.ScopeAPIUser, models.ScopeEventsWrite}}, key, "test"); err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: st}
	reg := prometheus.NewRegistry()
	return New(cs, nil, cfg, slog.New(slog.DiscardHandler), reg).Handler(reg), cs, key
}

type answer struct {
	code   int
	header http.Header
	err    struct{ Code, Message string }
}

func call(t *testing.T, h http.Handler, method, path, key, contentType, body string, remote string) answer {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if remote != "" {
		req.RemoteAddr = remote
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	a := answer{code: w.Code, header: w.Header()}
	var out struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &out)
	a.err = out.Error
	return a
}

// Failed authentications are limited per client address, and once over
// the limit a request is answered 429 without a database lookup, whatever
// key it carries and whatever X-Forwarded-For it claims.
func TestFailedAuthenticationIsLimitedBeforeLookup(t *testing.T) {
	h, st, key := newTestAPI(t, Config{AuthFailureRate: 1}) // bursts of 2
	for i := range 2 {
		if a := call(t, h, "GET", "/v1/webhooks", "tsk_wrong_key_0000000000", "", "", "192.0.2.1:1000"); a.code != http.StatusUnauthorized {
			t.Fatalf("bad key %d: %d, want 401", i+1, a.code)
		}
	}
	before := st.lookups.Load()
	for _, tt := range []struct{ name, key, forwarded string }{
		{"bad key", "tsk_wrong_key_0000000000", ""},
		{"no key", "", ""},
		{"good key", key, ""},
		{"forged X-Forwarded-For", "tsk_wrong_key_0000000000", "198.51.100.7"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/v1/webhooks", nil)
			req.RemoteAddr = "192.0.2.1:1001"
			if tt.key != "" {
				req.Header.Set("Authorization", "Bearer "+tt.key)
			}
			if tt.forwarded != "" {
				req.Header.Set("X-Forwarded-For", tt.forwarded)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
				t.Errorf("%d Retry-After %q, want 429 with Retry-After", w.Code, w.Header().Get("Retry-After"))
			}
			if !strings.Contains(w.Body.String(), `"rate_limited"`) {
				t.Errorf("body %s, want the error shape", w.Body.String())
			}
		})
	}
	if got := st.lookups.Load(); got != before {
		t.Errorf("%d lookups over the limit, want none", got-before)
	}
	// Another address is not held back.
	if a := call(t, h, "GET", "/v1/webhooks", key, "", "", "192.0.2.2:1000"); a.code != http.StatusOK {
		t.Errorf("another address with a good key: %d, want 200", a.code)
	}
}

// The limit is on failures, not on the address: a client whose key was
// seen valid keeps working while someone at its address guesses keys
// (they shared a NAT, and the guesses locked the good client out). The
// guesses stay limited without a lookup; a key revoked meanwhile fails.
func TestGuessesDoNotLockOutAGoodKey(t *testing.T) {
	h, st, key := newTestAPI(t, Config{AuthFailureRate: 1}) // bursts of 2
	const nat = "192.0.2.9:1000"
	if a := call(t, h, "GET", "/v1/webhooks", key, "", "", nat); a.code != http.StatusOK {
		t.Fatalf("good key: %d", a.code)
	}
	for range 2 {
		call(t, h, "GET", "/v1/webhooks", "tsk_wrong_key_0000000000", "", "", nat)
	}
	before := st.lookups.Load()
	if a := call(t, h, "GET", "/v1/webhooks", "tsk_wrong_key_1111111111", "", "", nat); a.code != http.StatusTooManyRequests {
		t.Errorf("a guess over the limit: %d, want 429", a.code)
	}
	if st.lookups.Load() != before {
		t.Errorf("a guess over the limit was looked up")
	}
	for i := range 3 {
		if a := call(t, h, "GET", "/v1/webhooks", key, "", "", nat); a.code != http.StatusOK {
			t.Fatalf("the good key from the limited address, request %d: %d %v, want 200", i+1, a.code, a.err)
		}
	}
	keys, err := st.ListAPIKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RevokeAPIKey(context.Background(), keys[0].ID); err != nil {
		t.Fatal(err)
	}
	if a := call(t, h, "GET", "/v1/webhooks", key, "", "", nat); a.code != http.StatusUnauthorized {
		t.Errorf("the revoked key: %d, want 401", a.code)
	}
	if a := call(t, h, "GET", "/v1/webhooks", key, "", "", nat); a.code != http.StatusTooManyRequests {
		t.Errorf("the revoked key again: %d, want 429 (no longer known good)", a.code)
	}
}

// API answers carry nosniff, and a refusal for want of a scope, a CSRF
// token or write access says which (every 403 said "the API key lacks
// the required scope").
func TestAnswersSayWhatTheyAre(t *testing.T) {
	h, st, key := newTestAPI(t, Config{})
	if a := call(t, h, "GET", "/v1/webhooks", key, "", "", ""); a.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q", a.header.Get("X-Content-Type-Options"))
	}
	if a := call(t, h, "GET", "/v1/nothing", key, "", "", ""); a.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("a 404's X-Content-Type-Options = %q", a.header.Get("X-Content-Type-Options"))
	}
	emit, _ := store.NewKeyValue()
	if _, err := st.CreateAPIKey(context.Background(), models.APIKey{WorkspaceID: "wrk_a", Scopes: []string{models.ScopeEventsWrite}}, emit, ""); err != nil {
		t.Fatal(err)
	}
	if a := call(t, h, "GET", "/v1/webhooks", emit, "", "", ""); a.code != http.StatusForbidden || a.err.Message != "this route needs api_user" {
		t.Errorf("an emit-only key managing: %d %q", a.code, a.err.Message)
	}
}

func TestRequestHygiene(t *testing.T) {
	h, _, key := newTestAPI(t, Config{URLPolicy: models.URLPolicy{AllowHTTP: true}})
	tests := []struct {
		name, method, path, contentType, body string
		code                                  int
		errCode                               string
	}{
		{"malformed cursor escape", "GET", "/v1/webhooks?cursor=%%%%", "", "", 400, "malformed_request"},
		{"cursor not ours", "GET", "/v1/webhooks?cursor=!!", "", "", 422, "invalid_field"},
		{"form body", "POST", "/v1/webhooks", "application/x-www-form-urlencoded", "url=https://example.com", 415, "unsupported_media_type"},
		{"no content type", "POST", "/v1/webhooks", "", `{"url": "https://example.com/h", "events": ["*"]}`, 415, "unsupported_media_type"},
		{"text body", "PATCH", "/v1/webhooks/wh_x", "text/plain", `{}`, 415, "unsupported_media_type"},
		{"port out of range", "POST", "/v1/webhooks", "application/json", `{"url": "https://example.com:99999/h", "events": ["*"]}`, 422, "invalid_field"},
		{"dashboard file missing", "GET", "/dashboard/missing.js", "", "", 404, "not_found"},
		{"dashboard escape", "GET", "/dashboard/../api/routes.go", "", "", 404, "not_found"},
		// JSON parsers read differently: refused, nothing accepted.
		{"envelope key twice", "POST", "/v1/events", "application/json", `{"event": "contact.created", "event": "conversation.created", "payload": {}}`, 400, "malformed_request"},
		{"payload key twice", "POST", "/v1/events", "application/json", `{"event": "contact.created", "payload": {"contact": {"id": "a", "id": "b"}}}`, 400, "malformed_request"},
		{"payload not UTF-8", "POST", "/v1/events", "application/json", "{\"event\": \"contact.created\", \"payload\": {\"name\": \"\xff\xfe\"}}", 400, "malformed_request"},
		{"batch key twice", "POST", "/v1/events/batch", "application/json", `{"events": [{"event": "contact.created", "payload": {}, "payload": {}}]}`, 400, "malformed_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := call(t, h, tt.method, tt.path, key, tt.contentType, tt.body, "")
			if a.code != tt.code || a.err.Code != tt.errCode || a.err.Message == "" {
				t.Errorf("%s %s = %d %+v, want %d %s with a message", tt.method, tt.path, a.code, a.err, tt.code, tt.errCode)
			}
		})
	}
	// Nothing was created by the refused bodies.
	if a := call(t, h, "GET", "/v1/webhooks", key, "", "", ""); a.code != http.StatusOK {
		t.Fatalf("list: %d", a.code)
	}
	// Answers that may carry secrets are never cached; a JSON body with
	// parameters is accepted.
	a := call(t, h, "POST", "/v1/webhooks", key, "application/json; charset=utf-8", `{"url": "https://example.com/h", "events": ["*"]}`, "")
	if a.code != http.StatusCreated {
		t.Fatalf("create with charset: %d %+v", a.code, a.err)
	}
	if cc := a.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("create's Cache-Control = %q, want no-store", cc)
	}
	if a := call(t, h, "GET", "/dashboard/", "", "", "", ""); a.code != http.StatusOK {
		t.Errorf("dashboard page: %d", a.code)
	}
}

// A portal link's host and its cookies' Secure flag come from the
// configured public URL, or from the request with X-Forwarded-Proto
// believed from a trusted proxy only (any client's Host and header made
// them before).
func TestPortalLinkFollowsThePublicURL(t *testing.T) {
	link := func(h http.Handler, key, remote, proto string) (string, *http.Cookie) {
		t.Helper()
		req := httptest.NewRequest("POST", "http://attacker.test/v1/portal-sessions", strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = remote
		if proto != "" {
			req.Header.Set("X-Forwarded-Proto", proto)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var out struct{ URL string }
		_ = json.Unmarshal(w.Body.Bytes(), &out)
		_, code, _ := strings.Cut(out.URL, "#/portal/")
		req = httptest.NewRequest("POST", "http://attacker.test/v1/portal/exchange", strings.NewReader(`{"code": "`+code+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = remote
		if proto != "" {
			req.Header.Set("X-Forwarded-Proto", proto)
		}
		w = httptest.NewRecorder()
		h.ServeHTTP(w, req)
		for _, c := range w.Result().Cookies() {
			if c.Name == portalCookie {
				return out.URL, c
			}
		}
		t.Fatalf("no session cookie: %d %s", w.Code, w.Body.String())
		return "", nil
	}
	h, _, key := newTestAPI(t, Config{PublicURL: "https://hooks.example.com", TrustedProxies: []string{"10.0.0.0/8"}})
	if u, c := link(h, key, "192.0.2.1:1", "http"); !strings.HasPrefix(u, "https://hooks.example.com/dashboard/#/portal/") || !c.Secure {
		t.Errorf("with a public URL: link %s, Secure %v", u, c.Secure)
	}
	h, _, key = newTestAPI(t, Config{TrustedProxies: []string{"10.0.0.0/8"}})
	if u, c := link(h, key, "192.0.2.1:1", "https"); !strings.HasPrefix(u, "http://attacker.test/") || c.Secure {
		t.Errorf("X-Forwarded-Proto from anyone: link %s, Secure %v; want it not believed", u, c.Secure)
	}
	if u, c := link(h, key, "10.1.2.3:1", "https"); !strings.HasPrefix(u, "https://attacker.test/") || !c.Secure {
		t.Errorf("X-Forwarded-Proto from a trusted proxy: link %s, Secure %v", u, c.Secure)
	}
}

// With a token, /metrics answers only requests bearing it (it was open
// on the API's port to anyone).
func TestMetricsToken(t *testing.T) {
	h, _, _ := newTestAPI(t, Config{MetricsToken: "m-0123456789abcdef"})
	for _, tt := range []struct {
		auth string
		code int
	}{{"", 401}, {"Bearer wrong-token-000000", 401}, {"Bearer m-0123456789abcdef", 200}} {
		req := httptest.NewRequest("GET", "/metrics", nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != tt.code || (tt.code == 200 && !strings.Contains(w.Body.String(), "tidyhooks_")) {
			t.Errorf("/metrics with %q: %d", tt.auth, w.Code)
		}
	}
}
