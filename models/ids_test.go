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
	if c := NewID("wh", t0); c == a {
		t.Errorf("two ids in the same millisecond are equal: %q", c)
	}
}
