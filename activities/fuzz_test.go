package activities

import (
	"net/http"
	"strconv"
	"testing"
	"time"
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
