package models

import (
	"strings"
	"testing"
	"time"
)

func TestNewIDSortsByTime(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := NewID("wh", t0)
	b := NewID("wh", t0.Add(time.Millisecond))
	if !strings.HasPrefix(a, "wh_") || len(a) != 29 {
		t.Fatalf("NewID = %q, want wh_ and 26 characters", a)
	}
	if a >= b {
		t.Errorf("ids do not sort by time: %q >= %q", a, b)
	}
	prev := b
	for range 1000 {
		c := NewID("wh", t0) // the clock stepped back: still increasing
		if c <= prev {
			t.Fatalf("ids not strictly increasing: %q after %q", c, prev)
		}
		prev = c
	}
}
