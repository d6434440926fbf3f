package models_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tidysupport/tidyhooks/models"
)

func parseFilters(t *testing.T, raw string) []models.Filter {
	t.Helper()
	var fs []models.Filter
	if err := json.Unmarshal([]byte(raw), &fs); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return fs
}

func TestNormalizeFilters(t *testing.T) {
	tests := []struct {
		filters   string
		wantField string // "" when valid
	}{
		{`[]`, ""},
		{`[{"path": "conversation.inboxId", "equals": "inb_1"}]`, ""},
		{`[{"path": "conversation.priority", "equals": 2}, {"path": "x", "equals": null}, {"path": "y", "equals": true}]`, ""},
		{`[{"path": "conversation.channel", "oneOf": ["email", "chat"]}]`, ""},
		{`[{"path": "contact.email", "exists": false}]`, ""},
		{`[{"path": "message.subject", "prefix": "[urgent]"}]`, ""},
		{`[{"path": "message.attachments.0.type", "equals": "image"}]`, ""},
		{`[{"equals": "x"}]`, "filters[0].path"},
		{`[{"path": "a..b", "equals": "x"}]`, "filters[0].path"},
		{`[{"path": ".a", "equals": "x"}]`, "filters[0].path"},
		{`[{"path": "a"}]`, "filters[0]"},
		{`[{"path": "a", "equals": "x", "prefix": "y"}]`, "filters[0]"},
		{`[{"path": "a", "equals": "x"}, {"path": "b", "equals": {"nested": 1}}]`, "filters[1].equals"},
		{`[{"path": "a", "equals": [1]}]`, "filters[0].equals"},
		{`[{"path": "a", "oneOf": []}]`, "filters[0].oneOf"},
		{`[{"path": "a", "oneOf": ["x", {"y": 1}]}]`, "filters[0].oneOf[1]"},
		{`[{"path": "a", "prefix": ""}]`, "filters[0].prefix"},
		{`[{"path": "` + strings.Repeat("a.", 20) + `a", "exists": true}]`, "filters[0].path"},
	}
	for _, tt := range tests {
		t.Run(tt.filters, func(t *testing.T) {
			_, err := models.NormalizeFilters(parseFilters(t, tt.filters))
			if tt.wantField == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var v *models.ValidationError
			if !errors.As(err, &v) || v.Field != tt.wantField {
				t.Fatalf("err = %v, want one naming %s", err, tt.wantField)
			}
		})
	}
	many := make([]models.Filter, models.MaxFilters+1)
	for i := range many {
		many[i] = models.Filter{Path: "a", Equals: json.RawMessage(`1`)}
	}
	if _, err := models.NormalizeFilters(many); err == nil {
		t.Error("too many filters accepted")
	}
}

func TestMatchFilters(t *testing.T) {
	payload := []byte(`{"conversation": {"id": "cnv_1", "inboxId": "inb_1", "channel": "email", "priority": 2,
		"tags": ["vip", "billing"], "assignee": null}, "message": {"subject": "[urgent] refund", "attachments": [{"type": "image"}]}}`)
	tests := []struct {
		filters string
		want    bool
	}{
		{`[]`, true},
		{`[{"path": "conversation.inboxId", "equals": "inb_1"}]`, true},
		{`[{"path": "conversation.inboxId", "equals": "inb_2"}]`, false},
		{`[{"path": "conversation.priority", "equals": 2.0}]`, true},
		{`[{"path": "conversation.priority", "equals": "2"}]`, false},
		{`[{"path": "conversation.assignee", "equals": null}]`, true},
		{`[{"path": "conversation.missing", "equals": null}]`, false},
		{`[{"path": "conversation.channel", "oneOf": ["chat", "email"]}]`, true},
		{`[{"path": "conversation.channel", "oneOf": ["chat", "sms"]}]`, false},
		{`[{"path": "conversation.assignee", "exists": true}]`, true},
		{`[{"path": "conversation.closedAt", "exists": false}]`, true},
		{`[{"path": "conversation.closedAt", "exists": true}]`, false},
		{`[{"path": "message.subject", "prefix": "[urgent]"}]`, true},
		{`[{"path": "conversation.priority", "prefix": "2"}]`, false},
		{`[{"path": "conversation.tags.1", "equals": "billing"}]`, true},
		{`[{"path": "conversation.tags.2", "exists": true}]`, false},
		{`[{"path": "message.attachments.0.type", "equals": "image"}]`, true},
		{`[{"path": "conversation.id.length", "exists": true}]`, false},
		{`[{"path": "conversation.inboxId", "equals": "inb_1"}, {"path": "conversation.channel", "equals": "chat"}]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.filters, func(t *testing.T) {
			fs, err := models.NormalizeFilters(parseFilters(t, tt.filters))
			if err != nil {
				t.Fatal(err)
			}
			if got := models.MatchFilters(fs, payload); got != tt.want {
				t.Errorf("MatchFilters = %v, want %v", got, tt.want)
			}
		})
	}
	if models.MatchFilters([]models.Filter{{Path: "a", Exists: new(bool)}}, []byte(`not json`)) {
		t.Error("a payload that is not JSON passed a filter")
	}
}

func TestParseFilter(t *testing.T) {
	tests := []struct {
		filter    string
		wantField string
		want      string // the filters, as JSON, when valid
	}{
		{`{}`, "", `[]`},
		{`{"conversation.inboxId": "inb_1", "a.b": {"in": [1, "x", null]}, "c": {"exists": false}, "d": {"prefix": "Re"}, "e": 2.5, "f": true, "g": null}`, "",
			`[{"path":"a.b","oneOf":[1,"x",null]},{"path":"c","exists":false},{"path":"conversation.inboxId","equals":"inb_1"},{"path":"d","prefix":"Re"},{"path":"e","equals":2.5},{"path":"f","equals":true},{"path":"g","equals":null}]`},
		{`{"a": [1, 2]}`, "filter.a", ""},
		{`{"a": {}}`, "filter.a", ""},
		{`{"a": {"in": [1], "exists": true}}`, "filter.a", ""},
		{`{"a": {"in": []}}`, "filter.a.in", ""},
		{`{"a": {"in": "x"}}`, "filter.a.in", ""},
		{`{"a": {"in": [1, [2]]}}`, "filter.a.in[1]", ""},
		{`{"a": {"exists": "yes"}}`, "filter.a.exists", ""},
		{`{"a": {"prefix": 3}}`, "filter.a.prefix", ""},
		{`{"a": {"regex": "x"}}`, "filter.a.regex", ""},
		{`{"": 1}`, "filter", ""},
		{`{"a.": 1}`, "filter", ""},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal([]byte(tt.filter), &obj); err != nil {
				t.Fatal(err)
			}
			fs, err := models.ParseFilter(obj)
			if tt.wantField != "" {
				var v *models.ValidationError
				if !errors.As(err, &v) || v.Field != tt.wantField {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fs == nil {
				fs = []models.Filter{}
			}
			got, _ := json.Marshal(fs)
			if string(got) != tt.want {
				t.Errorf("filters = %s\nwant %s", got, tt.want)
			}
			// Shown back as given.
			back, _ := json.Marshal(models.FilterObject(fs))
			var again map[string]json.RawMessage
			_ = json.Unmarshal(back, &again)
			if fs2, err := models.ParseFilter(again); err != nil || len(fs2) != len(fs) {
				t.Errorf("shown as %s, which reads back as %v, %v", back, fs2, err)
			}
		})
	}
}

// Numbers compare exactly: 29-digit integers that float64 rounds to one
// another are told apart, numbers past float64's range filter instead of
// being refused or clamped, and 1, 1.0 and 1e0 are one number.
func TestFilterNumbersCompareExactly(t *testing.T) {
	big := models.Filter{Path: "n", Equals: json.RawMessage(`12345678901234567890123456789`)}
	if !models.MatchFilters([]models.Filter{big}, []byte(`{"n": 12345678901234567890123456789}`)) {
		t.Error("the same 29-digit integer did not match")
	}
	if models.MatchFilters([]models.Filter{big}, []byte(`{"n": 12345678901234567890123456788}`)) {
		t.Error("a 29-digit integer one apart matched")
	}
	huge := models.Filter{Path: "n", Equals: json.RawMessage(`1e400`)}
	if fs, err := models.NormalizeFilters([]models.Filter{huge}); err != nil || len(fs) != 1 {
		t.Fatalf("a filter on 1e400: %v, %v", fs, err)
	}
	if !models.MatchFilters([]models.Filter{huge}, []byte(`{"n": 10e399}`)) || models.MatchFilters([]models.Filter{huge}, []byte(`{"n": 1.7976931348623157e308}`)) {
		t.Error("1e400 compared wrongly")
	}
	one := models.Filter{Path: "n", OneOf: []json.RawMessage{json.RawMessage(`1`)}}
	for _, p := range []string{`{"n": 1.0}`, `{"n": 1e0}`, `{"n": 1}`} {
		if !models.MatchFilters([]models.Filter{one}, []byte(p)) {
			t.Errorf("%s did not match 1", p)
		}
	}
	if models.MatchFilters([]models.Filter{huge}, []byte(`{"n": 1e999999999}`)) {
		t.Error("a number with a vast exponent matched 1e400")
	}
}
