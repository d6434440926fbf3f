package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tidysupport/tidyhooks/emitter"
	"github.com/tidysupport/tidyhooks/models"
)

// Fuzz targets for what a client sends. Their seeds (f.Add and
// testdata/fuzz) run in the normal test command; fuzz one longer with
// go test ./api -run '^$' -fuzz FuzzEmitRequest -fuzztime 5m.

// decodeBody runs body through the API's JSON decoding as a handler does.
func decodeBody(body []byte, limit int64, v any) error {
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest("POST", "/", bytes.NewReader(body))
	return decode(c, limit, v)
}

// clientError fails t unless err becomes a 4xx: bad input is never a 500.
func clientError(t *testing.T, what string, body []byte, err error) {
	t.Helper()
	if status, _, _ := classify(err); status < 400 || status >= 500 {
		t.Fatalf("%s %q: error %v became %d, want a 4xx", what, body, err, status)
	}
}

func FuzzEmitRequest(f *testing.F) {
	for _, seed := range []string{
		`{"event": "conversation.created", "payload": {"conversation": {"id": "cnv_1"}}}`,
		`{"id": "evt_order_1001", "event": "MESSAGE_CREATED", "workspaceId": "wrk_a", "timestamp": "2024-01-15T10:30:00.000Z", "payload": {}}`,
		`{"event": "testing.connection", "payload": {}}`,
		`{"event": "contact.created", "payload": [1]}`,
		`{"event": "contact.created", "payload": {"a": 1}, "extra": 1}`,
		`{"id": "evt_a/b", "event": "contact.created", "payload": {}}`,
		`{"event": "contact.created", "timestamp": "yesterday", "payload": {}}`,
		`{"event": 1}`,
		`[]`,
		``,
	} {
		f.Add([]byte(seed), "wrk_a")
	}
	em := emitter.New(nil, nil, emitter.Options{MaxPayloadBytes: 4096})
	f.Fuzz(func(t *testing.T, body []byte, keyWorkspace string) {
		var req models.EmitRequest
		if err := decodeBody(body, 8<<10, &req); err != nil {
			clientError(t, "decode", body, err)
			return
		}
		ev, err := em.Prepare(req, keyWorkspace)
		if err != nil {
			clientError(t, "prepare", body, err)
			return
		}
		if keyWorkspace != "" && ev.WorkspaceID != keyWorkspace {
			t.Fatalf("a key bound to %q emitted for %q", keyWorkspace, ev.WorkspaceID)
		}
		if ev.Type == models.TestingConnection || ev.Type.Name == "" {
			t.Fatalf("accepted event type %+v", ev.Type)
		}
		if models.ValidateWorkspaceID(ev.WorkspaceID) != nil {
			t.Fatalf("accepted workspace %q", ev.WorkspaceID)
		}
		var envelope map[string]json.RawMessage
		if err := json.Unmarshal(ev.Body(), &envelope); err != nil || len(envelope["payload"]) == 0 || envelope["payload"][0] != '{' {
			t.Fatalf("accepted %q, but its envelope %s is not JSON with an object payload (%v)", body, ev.Body(), err)
		}
	})
}

func FuzzWebhookBodies(f *testing.F) {
	for _, seed := range []string{
		`{"url": "https://example.com/hook", "events": ["conversation.*"]}`,
		`{"url": "https://example.com:99999/hook", "events": ["*"]}`,
		`{"url": "http://[::1]:8080/", "displayName": "x", "events": ["MESSAGE_CREATED", "message.created"], "status": "PAUSED"}`,
		`{"url": "javascript:alert(1)", "events": ["*"]}`,
		`{"url": "https://u:p@example.com/", "events": ["*"]}`,
		`{"events": []}`,
		`{"status": "DELETED"}`,
		`{"url": null}`,
		`{"events": ["testing.connection"]}`,
	} {
		f.Add([]byte(seed))
	}
	policy := models.URLPolicy{AllowHTTP: true}
	f.Fuzz(func(t *testing.T, body []byte) {
		var create createWebhookRequest
		if err := decodeBody(body, 64<<10, &create); err != nil {
			clientError(t, "decode create", body, err)
		} else if n, err := create.newWebhook(); err != nil {
			clientError(t, "read create", body, err)
		} else if w, err := n.Validate("wrk_a", policy); err != nil {
			clientError(t, "create", body, err)
		} else {
			if models.ValidateWebhookURL(w.URL, policy) != nil || len(w.Events) == 0 || w.WorkspaceID != "wrk_a" {
				t.Fatalf("created %+v from %q", w, body)
			}
			if _, err := models.NormalizeSubscriptions(w.Events); err != nil {
				t.Fatalf("created subscriptions %v that do not validate again: %v", w.Events, err)
			}
		}

		var patch patchWebhookRequest
		if err := decodeBody(body, 64<<10, &patch); err != nil {
			clientError(t, "decode patch", body, err)
			return
		}
		before := models.Webhook{ID: "wh_1", WorkspaceID: "wrk_a", URL: "https://example.com/", Events: []string{"*"}, Status: models.WebhookActive, CreatedAt: time.Unix(0, 0)}
		w := before
		webhookPatch, err := patch.patch()
		if err != nil {
			clientError(t, "read patch", body, err)
			return
		}
		if err := webhookPatch.Apply(&w, policy); err != nil {
			clientError(t, "patch", body, err)
			return
		}
		if w.ID != before.ID || w.WorkspaceID != before.WorkspaceID || models.ValidateWebhookURL(w.URL, policy) != nil || len(w.Events) == 0 {
			t.Fatalf("patch %q made %+v", body, w)
		}
	})
}

func FuzzWebhookURL(f *testing.F) {
	for _, seed := range []string{
		"https://example.com/hook", "http://127.0.0.1:8080/", "https://example.com:0/", "https://example.com:/",
		"https://[::1]:443/", "https://[fe80::1%25eth0]/", "https://exa mple.com/", "https://example.com/#frag",
		"//example.com/", "https:example.com", "HTTPS://EXAMPLE.COM/",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := models.ValidateWebhookURL(raw, models.URLPolicy{AllowHTTP: true})
		if err != nil {
			clientError(t, "url", []byte(raw), err)
			return
		}
		// What is accepted can be requested.
		req, err := http.NewRequest("POST", raw, nil)
		if err != nil {
			t.Fatalf("accepted %q, which cannot be requested: %v", raw, err)
		}
		if req.URL.Hostname() == "" || req.URL.User != nil {
			t.Fatalf("accepted %q: host %q, user %v", raw, req.URL.Hostname(), req.URL.User)
		}
		if ap, err := netip.ParseAddrPort(req.URL.Host); err == nil && ap.Port() == 0 {
			t.Fatalf("accepted %q with port 0", raw)
		}
	})
}

func FuzzCursor(f *testing.F) {
	for _, seed := range []string{"", "%%%%", "!!", models.EncodeCursor("wh_01J0000000000000000000000"), "AAAA", "____"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, cursor string) {
		id, err := models.DecodeCursor(cursor)
		if err != nil {
			clientError(t, "cursor", []byte(cursor), err)
			return
		}
		if id == "" || len(id) > 128 {
			t.Fatalf("cursor %q decoded to %q", cursor, id)
		}
		if again, err := models.DecodeCursor(models.EncodeCursor(id)); err != nil || again != id {
			t.Fatalf("id %q does not survive a round trip: %q, %v", id, again, err)
		}
	})
}

// No header name a webhook may set is one the product sends, however it
// is spelt: in any case, or with _ for - as CGI-style receivers read it.
// Fuzz with go test ./api -run '^$' -fuzz FuzzHeaderName.
func FuzzHeaderName(f *testing.F) {
	for _, seed := range []string{"X-Api-Key", "Webhook_Signature", "X_TIDYSUPPORT_EVENT", "content_type", "Authorization", "x y", "Host\x00", "héader"} {
		f.Add(seed)
	}
	reserved := []string{"WEBHOOK-", "X-TIDYSUPPORT-"}
	exact := []string{"CONTENT-TYPE", "CONTENT-LENGTH", "HOST", "USER-AGENT", "TRANSFER-ENCODING", "CONNECTION", "COOKIE"}
	f.Fuzz(func(t *testing.T, name string) {
		h, err := models.NormalizeHeaders(map[string]string{name: "v"})
		if err != nil {
			clientError(t, "header", []byte(name), err)
			return
		}
		for stored := range h {
			read := strings.ToUpper(strings.ReplaceAll(stored, "_", "-"))
			if slices.Contains(exact, read) || slices.ContainsFunc(reserved, func(p string) bool { return strings.HasPrefix(read, p) }) {
				t.Fatalf("header %q accepted as %q, which a receiver reads as %s", name, stored, read)
			}
		}
	})
}
