package activities

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/models"
)

// Fuzz Retry-After parsing longer with
// go test ./activities -run '^$' -fuzz FuzzRetryAfter -fuzztime 5m.
func FuzzRetryAfter(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, seed := range []string{"", "0", "120", "-5", " 7 ", "1e3", "99999999999999999999",
		now.Add(time.Hour).Format(http.TimeFormat), now.Add(-time.Hour).Format(http.TimeFormat), "Sun, 06 Nov 1994 08:49:37 GMT", "soon"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got := parseRetryAfter(v, now)
		if got < 0 {
			t.Fatalf("parseRetryAfter(%q) = %s, want never negative", v, got)
		}
		if secs, err := strconv.Atoi(v); err == nil && secs >= 0 && secs < 1<<31 && got != time.Duration(secs)*time.Second {
			t.Fatalf("parseRetryAfter(%q) = %s, want %d seconds", v, got, secs)
		}
	})
}

// Both forms of Retry-After (RFC 9110 §10.2.3): seconds, and an HTTP date,
// in any of the three date formats a server may send; a date in the past
// or nonsense asks for no wait.
func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	later := now.Add(90 * time.Minute)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"120", 2 * time.Minute},
		{" 7 ", 7 * time.Second},
		{"-5", 0},
		{later.Format(http.TimeFormat), 90 * time.Minute}, // IMF-fixdate
		{later.Format(time.RFC850), 90 * time.Minute},     // obsolete RFC 850
		{later.Format(time.ANSIC), 90 * time.Minute},      // asctime
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},  // in the past
		{now.Format(http.TimeFormat), 0},                  // now
		{"Sun, 06 Nov 1994 08:49:37 GMT", 0},              // long past
		{"soon", 0},
		{"", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// Any conversation id an event may carry names an ordered workflow whose
// id Temporal takes (a non-ASCII id stalled its event for good: the id
// rides in a gRPC header), and two conversations never share one. Fuzz
// with go test ./activities -run '^$' -fuzz FuzzInOrderWorkflowID.
func FuzzInOrderWorkflowID(f *testing.F) {
	for _, seed := range [][2]string{{"cnv_é", "cnv_%C3%A9"}, {"a\u202eb", "a b"}, {"\x00", "%00"}, {"🎉", "%"},
		{strings.Repeat("x", 200), strings.Repeat("é", 100)}, {"%sha256:0", "sha256:0"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		payload, _ := json.Marshal(map[string]any{"conversation": map[string]any{"id": a}})
		conv := models.ConversationOf(payload)
		if conv == "" {
			return // not a conversation ordering keys on
		}
		id := InOrderWorkflowID("wh_01J0000000000000000000000", conv)
		if len(id) > 1000 {
			t.Fatalf("conversation %q: workflow id of %d bytes", conv, len(id))
		}
		for i := 0; i < len(id); i++ {
			if id[i] <= ' ' || id[i] >= 0x7f {
				t.Fatalf("conversation %q: workflow id %q has byte %#x", conv, id, id[i])
			}
		}
		if a != b && InOrderWorkflowID("wh_01J0000000000000000000000", b) == id {
			t.Fatalf("conversations %q and %q share the workflow %q", a, b, id)
		}
	})
}
