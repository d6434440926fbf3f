package models_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/models"
)

func TestLookupEvent(t *testing.T) {
	tests := []struct {
		in       string
		wantName string
		wantWire string
	}{
		{"CONVERSATION_CREATED", "CONVERSATION_CREATED", "conversation.created"},
		{"conversation.created", "CONVERSATION_CREATED", "conversation.created"},
		{"Conversation.Closed", "CONVERSATION_CLOSED", "conversation.closed"},
		{"conversation_reopened", "CONVERSATION_REOPENED", "conversation.reopened"},
		{"MESSAGE_CREATED", "MESSAGE_CREATED", "message.received"},
		{"message.received", "MESSAGE_CREATED", "message.received"},
		{"message.created", "MESSAGE_CREATED", "message.received"},
		{"MESSAGE.CREATED", "MESSAGE_CREATED", "message.received"},
		{"message.updated", "MESSAGE_UPDATED", "message.updated"},
		{"contact.created", "CONTACT_CREATED", "contact.created"},
		{"signal.created", "SIGNAL_CREATED", "signal.created"},
		{"SIGNAL_UPDATED", "SIGNAL_UPDATED", "signal.updated"},
		{"conversation.assigned", "CONVERSATION_ASSIGNED", "conversation.assigned"},
		{"conversation.updated", "CONVERSATION_UPDATED", "conversation.updated"},
		{"testing.connection", "TESTING_CONNECTION", "testing.connection"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := models.LookupEvent(tt.in)
			if !ok || got.Name != tt.wantName || got.Wire != tt.wantWire {
				t.Errorf("LookupEvent(%q) = %+v, %v; want %s / %s", tt.in, got, ok, tt.wantName, tt.wantWire)
			}
		})
	}
	for _, bad := range []string{"", "conversation", "conversation.deleted", "CONVERSATION-CREATED", "*"} {
		if got, ok := models.LookupEvent(bad); ok {
			t.Errorf("LookupEvent(%q) = %+v, want not found", bad, got)
		}
	}
	if n := len(models.Catalog()); n != 10 {
		t.Errorf("catalog has %d emittable events, want 10", n)
	}
}

func TestParseEmittedEventRefusesReservedAndUnknown(t *testing.T) {
	for _, bad := range []string{"", "testing.connection", "TESTING_CONNECTION", "nope.nope"} {
		var ve *models.ValidationError
		if _, err := models.ParseEmittedEvent(bad); !errors.As(err, &ve) || ve.Field != "event" {
			t.Errorf("ParseEmittedEvent(%q) err = %v, want a validation error on event", bad, err)
		}
	}
}

func TestNormalizeSubscriptions(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"enum and wire forms", []string{"conversation.created", "CONTACT_CREATED"}, []string{"CONVERSATION_CREATED", "CONTACT_CREATED"}},
		{"alias", []string{"message.created"}, []string{"MESSAGE_CREATED"}},
		{"families", []string{"conversation.*", "MESSAGE_*", "Signal.*", "contact_*"}, []string{"CONVERSATION_*", "MESSAGE_*", "SIGNAL_*", "CONTACT_*"}},
		{"everything", []string{"*"}, []string{"*"}},
		{"duplicates collapse", []string{"conversation.created", "CONVERSATION_CREATED"}, []string{"CONVERSATION_CREATED"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := models.NormalizeSubscriptions(tt.in)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("NormalizeSubscriptions(%v) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
	bad := map[string][]string{
		"empty":          {},
		"unknown":        {"conversation.deleted"},
		"reserved":       {"testing.connection"},
		"unknown family": {"ticket.*"},
		"blank":          {" "},
		"too many":       slices.Repeat([]string{"*"}, models.MaxSubscriptionEntries+1),
	}
	for name, in := range bad {
		t.Run("bad "+name, func(t *testing.T) {
			var ve *models.ValidationError
			if _, err := models.NormalizeSubscriptions(in); !errors.As(err, &ve) {
				t.Errorf("NormalizeSubscriptions(%v) err = %v, want a validation error", in, err)
			}
		})
	}
}

func TestSubscriptionPatterns(t *testing.T) {
	created, _ := models.LookupEvent("conversation.created")
	msg, _ := models.LookupEvent("message.received")
	tests := []struct {
		subs []string
		e    models.EventType
		want bool
	}{
		{[]string{"*"}, msg, true},
		{[]string{"CONVERSATION_*"}, created, true},
		{[]string{"CONVERSATION_*"}, msg, false},
		{[]string{"MESSAGE_CREATED"}, msg, true},
		{[]string{"CONVERSATION_CLOSED"}, created, false},
	}
	for _, tt := range tests {
		if got := slices.ContainsFunc(models.SubscriptionPatterns(tt.e), func(p string) bool { return slices.Contains(tt.subs, p) }); got != tt.want {
			t.Errorf("SubscriptionPatterns(%s) against %v = %v, want %v", tt.e.Name, tt.subs, got, tt.want)
		}
	}
}

func fixedID() string { return "evt_generated" }

func TestNewEventAndEnvelope(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 8, 9, 987654321, time.UTC)
	ev, err := models.NewEvent(models.EmitRequest{
		Event:     "conversation.created",
		Timestamp: "2024-01-15T11:30:00.123456+01:00",
		Payload:   json.RawMessage(` {"conversation": {"id": "cnv_abc123", "html": "<b>&</b>"}} `),
	}, "wrk_xyz789", models.EmitLimits{}, fixedID, now)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"event":"conversation.created","version":1,"timestamp":"2024-01-15T10:30:00.123Z","payload":{"conversation": {"id": "cnv_abc123", "html": "<b>&</b>"}}}`
	if got := string(ev.Body()); got != want {
		t.Errorf("Body =\n%s\nwant\n%s", got, want)
	}
	if ev.ID != "evt_generated" || ev.WorkspaceID != "wrk_xyz789" {
		t.Errorf("event = %+v", ev)
	}
	var env struct {
		Event   string `json:"event"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(ev.Body(), &env); err != nil || env.Version != 1 || env.Event != "conversation.created" {
		t.Errorf("envelope does not decode: %+v, %v", env, err)
	}

	defaulted, err := models.NewEvent(models.EmitRequest{ID: "evt_abc-1", Event: "MESSAGE_CREATED", Payload: json.RawMessage(`{}`)}, "wrk_a", models.EmitLimits{}, fixedID, now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(defaulted.Body()), `"timestamp":"2026-05-06T07:08:09.987Z"`) || defaulted.ID != "evt_abc-1" || defaulted.Type.Wire != "message.received" {
		t.Errorf("defaulted event body = %s, id %s", defaulted.Body(), defaulted.ID)
	}
}

func TestNewEventRefusesBadInput(t *testing.T) {
	obj := json.RawMessage(`{"a":1}`)
	tests := []struct {
		name      string
		req       models.EmitRequest
		keyWS     string
		wantField string
		tooLarge  bool
	}{
		{"unknown event", models.EmitRequest{Event: "conversation.deleted", Payload: obj}, "wrk_a", "event", false},
		{"missing event", models.EmitRequest{Payload: obj}, "wrk_a", "event", false},
		{"reserved event", models.EmitRequest{Event: "testing.connection", Payload: obj}, "wrk_a", "event", false},
		{"missing workspace for platform key", models.EmitRequest{Event: "contact.created", Payload: obj}, "", "workspaceId", false},
		{"another workspace", models.EmitRequest{Event: "contact.created", WorkspaceID: "wrk_b", Payload: obj}, "wrk_a", "workspaceId", false},
		{"bad workspace id", models.EmitRequest{Event: "contact.created", WorkspaceID: "wrk a", Payload: obj}, "", "workspaceId", false},
		{"bad event id", models.EmitRequest{ID: "123", Event: "contact.created", Payload: obj}, "wrk_a", "id", false},
		{"missing payload", models.EmitRequest{Event: "contact.created"}, "wrk_a", "payload", false},
		{"null payload", models.EmitRequest{Event: "contact.created", Payload: json.RawMessage(`null`)}, "wrk_a", "payload", false},
		{"array payload", models.EmitRequest{Event: "contact.created", Payload: json.RawMessage(`[1]`)}, "wrk_a", "payload", false},
		{"string payload", models.EmitRequest{Event: "contact.created", Payload: json.RawMessage(`"x"`)}, "wrk_a", "payload", false},
		{"bad timestamp", models.EmitRequest{Event: "contact.created", Timestamp: "yesterday", Payload: obj}, "wrk_a", "timestamp", false},
		{"payload over the limit", models.EmitRequest{Event: "contact.created", Payload: json.RawMessage(`{"a":"` + strings.Repeat("x", 2000) + `"}`)}, "wrk_a", "payload", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := models.NewEvent(tt.req, tt.keyWS, models.EmitLimits{MaxPayloadBytes: 1024}, fixedID, time.Now())
			if tt.tooLarge {
				var tl *models.TooLargeError
				if !errors.As(err, &tl) || !errors.Is(err, models.ErrTooLarge) || tl.Field != tt.wantField {
					t.Errorf("err = %v, want too large on %s", err, tt.wantField)
				}
				return
			}
			var ve *models.ValidationError
			if !errors.As(err, &ve) || ve.Field != tt.wantField {
				t.Errorf("err = %v, want a validation error on %s", err, tt.wantField)
			}
		})
	}
}

func TestNewWebhookValidation(t *testing.T) {
	ok, err := models.NewWebhook{URL: "https://hooks.example.com/x?y=1", Events: []string{"conversation.created"}}.Validate("wrk_a", models.URLPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if ok.DisplayName != "hooks.example.com" || ok.Status != models.WebhookActive || !slices.Equal(ok.Events, []string{"CONVERSATION_CREATED"}) {
		t.Errorf("webhook = %+v", ok)
	}
	paused, err := models.NewWebhook{URL: "http://localhost:9000", Events: []string{"*"}, Status: "paused", DisplayName: " Mine "}.Validate("wrk_a", models.URLPolicy{AllowHTTP: true})
	if err != nil || paused.Status != models.WebhookPaused || paused.DisplayName != "Mine" {
		t.Errorf("paused webhook = %+v, %v", paused, err)
	}
	events := []string{"*"}
	tests := []struct {
		name      string
		in        models.NewWebhook
		policy    models.URLPolicy
		wantField string
	}{
		{"missing url", models.NewWebhook{Events: events}, models.URLPolicy{}, "url"},
		{"ftp url", models.NewWebhook{URL: "ftp://example.com", Events: events}, models.URLPolicy{AllowHTTP: true}, "url"},
		{"javascript url", models.NewWebhook{URL: "javascript:alert(1)", Events: events}, models.URLPolicy{AllowHTTP: true}, "url"},
		{"relative url", models.NewWebhook{URL: "/hook", Events: events}, models.URLPolicy{AllowHTTP: true}, "url"},
		{"plain http refused", models.NewWebhook{URL: "http://example.com", Events: events}, models.URLPolicy{}, "url"},
		{"credentials", models.NewWebhook{URL: "https://u:p@example.com", Events: events}, models.URLPolicy{}, "url"},
		{"port out of range", models.NewWebhook{URL: "https://example.com:99999/hook", Events: events}, models.URLPolicy{}, "url"},
		{"port zero", models.NewWebhook{URL: "https://example.com:0/hook", Events: events}, models.URLPolicy{}, "url"},
		{"empty port", models.NewWebhook{URL: "https://example.com:/hook", Events: events}, models.URLPolicy{}, "url"},
		{"too long", models.NewWebhook{URL: "https://example.com/" + strings.Repeat("a", models.MaxURLLength), Events: events}, models.URLPolicy{}, "url"},
		{"empty events", models.NewWebhook{URL: "https://example.com", Events: nil}, models.URLPolicy{}, "events"},
		{"unknown event", models.NewWebhook{URL: "https://example.com", Events: []string{"nope"}}, models.URLPolicy{}, "events[0]"},
		{"bad status", models.NewWebhook{URL: "https://example.com", Events: events, Status: "DISABLED"}, models.URLPolicy{}, "status"},
		{"long name", models.NewWebhook{URL: "https://example.com", Events: events, DisplayName: strings.Repeat("n", 200)}, models.URLPolicy{}, "displayName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ve *models.ValidationError
			if _, err := tt.in.Validate("wrk_a", tt.policy); !errors.As(err, &ve) || ve.Field != tt.wantField {
				t.Errorf("err = %v, want a validation error on %s", err, tt.wantField)
			}
		})
	}
}

func TestEveryEventTypeHasADescriptionAndAnExampleObject(t *testing.T) {
	for _, e := range append(models.Catalog(), models.Operational()...) {
		a := models.Describe(e)
		var obj map[string]any
		if a.Description == "" || json.Unmarshal(a.Example, &obj) != nil || len(obj) == 0 {
			t.Errorf("%s: description %q, example %s", e.Name, a.Description, a.Example)
		}
	}
}

func TestOperationalEventsAreOptInAndNeverEmitted(t *testing.T) {
	if _, err := models.ParseEmittedEvent("webhook.paused"); err == nil || !strings.Contains(err.Error(), "emitted by the webhook service itself") {
		t.Errorf("emitting webhook.paused: %v", err)
	}
	if got := models.SubscriptionPatterns(models.WebhookPausedEvent); slices.Contains(got, models.AllEvents) || !slices.Contains(got, "WEBHOOK_*") || !slices.Contains(got, "WEBHOOK_PAUSED") {
		t.Errorf("patterns of webhook.paused = %v", got)
	}
	for _, in := range []string{"webhook.*", "WEBHOOK_*", "webhook.paused", "WEBHOOK_PAUSED"} {
		if _, err := models.NormalizeSubscription(in); err != nil {
			t.Errorf("subscribing to %s: %v", in, err)
		}
	}
	if (models.Webhook{Events: []string{models.AllEvents}}).Subscribed(models.WebhookPausedEvent) {
		t.Error(`"*" covers webhook.paused`)
	}
	if !(models.Webhook{Events: []string{"WEBHOOK_*"}}).Subscribed(models.WebhookPausedEvent) {
		t.Error("WEBHOOK_* does not cover webhook.paused")
	}
}
