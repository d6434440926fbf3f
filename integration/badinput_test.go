package integration_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"go.temporal.io/api/serviceerror"

	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/workflows"
)

// Every bad request gets SPEC §5's error shape and status, and nothing is
// stored or started: each one names an event id that must not exist after.
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	s := newStack(t, stackOptions{maxPayloadBytes: 1024})
	big := `{"a": "` + strings.Repeat("x", 2000) + `"}`
	tests := []struct {
		name   string
		method string
		path   string
		key    string // "A", "B", "platform", "emitOnly", "none", "wrong"
		body   string
		status int
		code   string
	}{
		{"malformed JSON", "POST", "/v1/events", "A", `{"id": "evt_bad1", "event": `, 400, "malformed_request"},
		{"not an object", "POST", "/v1/events", "A", `[{"id": "evt_bad2"}]`, 400, "malformed_request"},
		{"two values", "POST", "/v1/events", "A", `{"id": "evt_bad3", "event": "contact.created", "payload": {}} {}`, 400, "malformed_request"},
		{"unknown event", "POST", "/v1/events", "A", `{"id": "evt_bad4", "event": "conversation.deleted", "payload": {}}`, 422, "invalid_field"},
		{"testing.connection", "POST", "/v1/events", "A", `{"id": "evt_bad5", "event": "testing.connection", "payload": {}}`, 422, "invalid_field"},
		{"payload array", "POST", "/v1/events", "A", `{"id": "evt_bad6", "event": "contact.created", "payload": [1, 2]}`, 422, "invalid_field"},
		{"payload string", "POST", "/v1/events", "A", `{"id": "evt_bad7", "event": "contact.created", "payload": "hi"}`, 422, "invalid_field"},
		{"payload missing", "POST", "/v1/events", "A", `{"id": "evt_bad8", "event": "contact.created"}`, 422, "invalid_field"},
		{"payload over the limit", "POST", "/v1/events", "A", `{"id": "evt_bad9", "event": "contact.created", "payload": ` + big + `}`, 413, "too_large"},
		{"body over the limit", "POST", "/v1/events", "A", `{"id": "evt_bad10", "event": "contact.created", "payload": {"a": "` + strings.Repeat("x", 40<<10) + `"}}`, 413, "too_large"},
		{"missing workspace", "POST", "/v1/events", "platform", `{"id": "evt_bad11", "event": "contact.created", "payload": {}}`, 422, "invalid_field"},
		{"another workspace", "POST", "/v1/events", "A", `{"id": "evt_bad12", "event": "contact.created", "workspaceId": "wrk_b", "payload": {}}`, 422, "invalid_field"},
		{"unknown field", "POST", "/v1/events", "A", `{"id": "evt_bad13", "event": "contact.created", "payload": {}, "extra": 1}`, 422, "invalid_field"},
		{"wrong type", "POST", "/v1/events", "A", `{"id": "evt_bad14", "event": 5, "payload": {}}`, 422, "invalid_field"},
		{"bad timestamp", "POST", "/v1/events", "A", `{"id": "evt_bad15", "event": "contact.created", "timestamp": "noon", "payload": {}}`, 422, "invalid_field"},
		{"missing key", "POST", "/v1/events", "none", `{"id": "evt_bad16", "event": "contact.created", "payload": {}}`, 401, "unauthorized"},
		{"wrong key", "POST", "/v1/events", "wrong", `{"id": "evt_bad17", "event": "contact.created", "payload": {}}`, 401, "unauthorized"},
		{"batch with one bad event", "POST", "/v1/events/batch", "A", `{"events": [{"id": "evt_bad18", "event": "contact.created", "payload": {}}, {"id": "evt_bad19", "event": "nope", "payload": {}}]}`, 422, "invalid_field"},
		{"empty batch", "POST", "/v1/events/batch", "A", `{"events": []}`, 422, "invalid_field"},
		{"batch repeating an id", "POST", "/v1/events/batch", "A", `{"events": [{"id": "evt_bad20", "event": "contact.created", "payload": {}}, {"id": "evt_bad20", "event": "contact.created", "payload": {}}]}`, 422, "invalid_field"},
		{"webhook ftp URL", "POST", "/v1/webhooks", "A", `{"url": "ftp://example.com/x", "events": ["*"]}`, 422, "invalid_field"},
		{"webhook relative URL", "POST", "/v1/webhooks", "A", `{"url": "/hook", "events": ["*"]}`, 422, "invalid_field"},
		{"webhook empty events", "POST", "/v1/webhooks", "A", `{"url": "https://example.com/x", "events": []}`, 422, "invalid_field"},
		{"webhook unknown event", "POST", "/v1/webhooks", "A", `{"url": "https://example.com/x", "events": ["ticket.created"]}`, 422, "invalid_field"},
		{"webhook reserved event", "POST", "/v1/webhooks", "A", `{"url": "https://example.com/x", "events": ["TESTING_CONNECTION"]}`, 422, "invalid_field"},
		{"webhook malformed", "POST", "/v1/webhooks", "A", `{"url": `, 400, "malformed_request"},
		{"webhook without key", "POST", "/v1/webhooks", "none", `{"url": "https://example.com/x", "events": ["*"]}`, 401, "unauthorized"},
		{"webhook with an emit-only key", "POST", "/v1/webhooks", "emitOnly", `{"url": "https://example.com/x", "events": ["*"]}`, 403, "forbidden"},
		{"webhook with a platform key", "POST", "/v1/webhooks", "platform", `{"url": "https://example.com/x", "events": ["*"]}`, 403, "forbidden"},
		{"list with bad cursor", "GET", "/v1/webhooks?cursor=***", "A", ``, 422, "invalid_field"},
		{"list with bad limit", "GET", "/v1/webhooks?limit=0", "A", ``, 422, "invalid_field"},
		{"unknown route", "GET", "/v1/nothing", "A", ``, 404, "not_found"},
		{"wrong method", "DELETE", "/v1/events", "A", ``, 405, "method_not_allowed"},
	}
	keys := map[string]string{"A": s.keyA, "B": s.keyB, "platform": s.platform, "emitOnly": s.emitOnlyA, "none": "", "wrong": "tsk_notakey000000000000000000"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := s.do(tt.method, tt.path, keys[tt.key], tt.body)
			if code != tt.status {
				t.Errorf("status = %d, want %d (%v)", code, tt.status, out)
			}
			e, _ := out["error"].(map[string]any)
			if e == nil || e["code"] != tt.code || e["message"] == "" {
				t.Errorf("body = %v, want {error: {code: %s, message: …}}", out, tt.code)
			}
		})
	}

	ctx := context.Background()
	for i := 1; i <= 20; i++ {
		id := "evt_bad" + strconv.Itoa(i)
		for _, ws := range []string{"wrk_a", "wrk_b"} {
			if _, err := s.store.Event(ctx, ws, id); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("event %s was stored in %s (err %v)", id, ws, err)
			}
			_, err := s.client.DescribeWorkflowExecution(ctx, workflows.EventWorkflowID(ws, id), "")
			var nf *serviceerror.NotFound
			if !errors.As(err, &nf) {
				t.Errorf("workflow of %s in %s exists (err %v)", id, ws, err)
			}
		}
	}
	page, err := s.store.ListWebhooks(ctx, "wrk_a", "", 100)
	if err != nil || len(page.Items) != 0 {
		t.Errorf("webhooks after bad requests: %d, %v; want none", len(page.Items), err)
	}
	if code, _ := s.do("GET", "/healthz", "", ""); code != http.StatusOK {
		t.Errorf("healthz = %d", code)
	}
	if code, out := s.do("GET", "/readyz", "", ""); code != http.StatusOK {
		t.Errorf("readyz = %d %v", code, out)
	}
}
