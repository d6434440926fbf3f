package activities

import (
	"testing"
	"time"
)

// A webhook is held to the slow bound until it answers quickly, and again
// as soon as a request hangs or its last one was slow.
func TestInFlightBoundsSlowWebhooksOnly(t *testing.T) {
	f := newInFlight(2, 5)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// enter takes a slot at at and starts its request at once.
	enter := func(at time.Time) *slot {
		s, _ := f.enter("wh_1", at)
		if s != nil {
			s.send(at)
		}
		return s
	}

	// Unknown: not known to be slow, but held to the slow bound.
	if _, slow := f.enter("wh_0", t0); slow {
		t.Error("a webhook never answered is known to be slow")
	}
	a, b := enter(t0), enter(t0.Add(time.Millisecond))
	if a == nil || b == nil || enter(t0.Add(2*time.Millisecond)) != nil {
		t.Fatal("a webhook never answered yet is not held to 2")
	}
	// Both answer within 10 ms: fast, up to 5.
	f.leave("wh_1", a, 10*time.Millisecond)
	f.leave("wh_1", b, 10*time.Millisecond)
	t1 := t0.Add(20 * time.Millisecond)
	var fast []*slot
	for i := range 5 {
		s := enter(t1)
		if s == nil {
			t.Fatalf("a fast webhook refused attempt %d of 5", i+1)
		}
		fast = append(fast, s)
	}
	if enter(t1) != nil {
		t.Error("a fast webhook went past 5")
	}
	// One request now hangs past five seconds: slow again.
	for _, s := range fast[1:] {
		f.leave("wh_1", s, 5*time.Millisecond)
	}
	hanging := fast[0]
	late := enter(t1.Add(2 * time.Second))
	if late == nil {
		t.Error("a webhook with a request in flight for 2s is held back")
	}
	if enter(t1.Add(6*time.Second)) != nil {
		t.Error("a webhook with a request in flight for 6s went past 2")
	}
	// The hanging one ends slowly: the last latency keeps it slow; an
	// attempt that made no request changes nothing.
	f.leave("wh_1", late, time.Millisecond)
	f.leave("wh_1", hanging, 7*time.Second)
	none := enter(t1.Add(7 * time.Second))
	if none == nil {
		t.Fatal("refused with none in flight")
	}
	f.leave("wh_1", none, -1)
	t2 := t1.Add(8 * time.Second)
	first, second, third := enter(t2), enter(t2), enter(t2)
	if first == nil || second == nil || third != nil {
		t.Error("a webhook whose last request took 7s is not held to 2")
	}
	// Another webhook is counted apart.
	if s, _ := f.enter("wh_2", t2); s == nil {
		t.Error("another webhook is held back")
	}
}

// An attempt waiting for its log write, before its request, does not make
// its endpoint look slow however long the database takes.
func TestInFlightCountsRequestTimeOnly(t *testing.T) {
	f := newInFlight(2, 5)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s, _ := f.enter("wh_1", t0)
	s.send(t0)
	f.leave("wh_1", s, 10*time.Millisecond) // answered: fast
	queued, _ := f.enter("wh_1", t0.Add(time.Second))
	if queued == nil {
		t.Fatal("refused")
	}
	if _, slow := f.enter("wh_1", t0.Add(20*time.Second)); slow {
		t.Error("an attempt queued for 19s before its request made the webhook slow")
	}
	queued.send(t0.Add(20 * time.Second))
	if _, slow := f.enter("wh_1", t0.Add(26*time.Second)); !slow {
		t.Error("a request under way for 6s did not make the webhook slow")
	}
}

// An attempt to a fast webhook at its bound waits for a slot to be left;
// one to a slow or new webhook is refused at once.
func TestInFlightWaitsForFastWebhooksOnly(t *testing.T) {
	f := newInFlight(1, 2)
	ctx := t.Context()
	answered := func(key string) {
		s, _ := f.enter(key, time.Now())
		s.send(time.Now())
		f.leave(key, s, time.Millisecond)
	}
	answered("fast")
	a, _ := f.acquire(ctx, "fast")
	b, _ := f.acquire(ctx, "fast")
	if a == nil || b == nil {
		t.Fatal("a fast webhook refused within its bound")
	}
	got := make(chan *slot)
	go func() {
		s, _ := f.acquire(ctx, "fast")
		got <- s
	}()
	select {
	case s := <-got:
		t.Fatalf("an attempt past the bound got slot %p without one being left", s)
	case <-time.After(50 * time.Millisecond):
	}
	f.leave("fast", a, time.Millisecond)
	select {
	case s := <-got:
		if s == nil {
			t.Error("the waiting attempt was refused after a slot was left")
		}
	case <-time.After(fastWait):
		t.Error("the waiting attempt did not get the slot left")
	}

	// Never answered: bound 1, refused at once, but not reported slow, so
	// that it is retried soon.
	if s, _ := f.acquire(ctx, "new"); s == nil {
		t.Fatal("refused with none in flight")
	}
	start := time.Now()
	if s, slow := f.acquire(ctx, "new"); s != nil || slow {
		t.Errorf("a webhook never answered past its bound: slot %v, slow %v", s, slow)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("refusing a webhook never answered took %s", took)
	}

	// Known slow (its last request took over slowAfter): refused at once.
	s, _ := f.enter("hangs", time.Now())
	f.leave("hangs", s, slowAfter+time.Second)
	if s, _ := f.acquire(ctx, "hangs"); s == nil {
		t.Fatal("refused with none in flight")
	}
	start = time.Now()
	if s, slow := f.acquire(ctx, "hangs"); s != nil || !slow {
		t.Errorf("a slow webhook past its bound: slot %v, slow %v", s, slow)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("refusing a slow webhook took %s", took)
	}
}
