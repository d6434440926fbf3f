package activities

import (
	"testing"
	"time"
)

// A webhook is held to the slow bound until it answers quickly, and again
// as soon as an attempt hangs or its last one was slow.
func TestInFlightBoundsSlowWebhooksOnly(t *testing.T) {
	f := newInFlight(2, 5)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	enter := func(at time.Time) bool { ok, _ := f.enter("wh_1", at); return ok }

	// Unknown: slow.
	if _, slow := f.enter("wh_0", t0); !slow {
		t.Error("a webhook never answered is not slow")
	}
	if !enter(t0) || !enter(t0.Add(time.Millisecond)) || enter(t0.Add(2*time.Millisecond)) {
		t.Fatal("a webhook never answered yet is not held to 2")
	}
	// Both answer within 10 ms: fast, up to 5.
	f.leave("wh_1", t0, 10*time.Millisecond)
	f.leave("wh_1", t0.Add(time.Millisecond), 10*time.Millisecond)
	t1 := t0.Add(20 * time.Millisecond)
	for i := range 5 {
		if !enter(t1) {
			t.Fatalf("a fast webhook refused attempt %d of 5", i+1)
		}
	}
	if enter(t1) {
		t.Error("a fast webhook went past 5")
	}
	// Its attempts now hang past a second: slow again.
	for range 4 {
		f.leave("wh_1", t1, 5*time.Millisecond)
	}
	if !enter(t1.Add(2 * time.Second)) {
		t.Error("a webhook with a request in flight for 2s is held back")
	}
	if enter(t1.Add(6 * time.Second)) {
		t.Error("a webhook with a request in flight for 6s went past 2")
	}
	// The hanging one ends slowly: the last latency keeps it slow; an
	// attempt that made no request changes nothing.
	f.leave("wh_1", t1.Add(2*time.Second), time.Millisecond)
	f.leave("wh_1", t1, 7*time.Second)
	if !enter(t1.Add(7 * time.Second)) {
		t.Fatal("refused with one in flight")
	}
	f.leave("wh_1", t1.Add(7*time.Second), -1)
	t2 := t1.Add(8 * time.Second)
	if !enter(t2) || !enter(t2) || enter(t2) {
		t.Error("a webhook whose last request took 7s is not held to 2")
	}
	// Another webhook is counted apart.
	if ok, _ := f.enter("wh_2", t2); !ok {
		t.Error("another webhook is held back")
	}
}
