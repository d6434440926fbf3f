package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {95, 95 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}}
	for _, tt := range tests {
		if got := Percentile(ds, tt.p); got != tt.want {
			t.Errorf("Percentile(1..100ms, %v) = %s, want %s", tt.p, got, tt.want)
		}
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("Percentile(nil) = %s, want 0", got)
	}
	one := []time.Duration{7 * time.Second}
	if got := Percentile(one, 99); got != 7*time.Second {
		t.Errorf("Percentile of one = %s", got)
	}
	l := Summarize([]time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond})
	if l.P50 != 2*time.Millisecond || l.Max != 4*time.Millisecond || l.P99 != 4*time.Millisecond {
		t.Errorf("Summarize = %+v", l)
	}
}

func TestReconcile(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := func(e, w string) Pair { return Pair{EventID: e, WebhookID: w} }
	expected := map[Pair]Expected{
		p("e1", "w1"): {Emitted: t0, Deliverable: true, Class: "healthy"},
		p("e2", "w1"): {Emitted: t0.Add(time.Second), Deliverable: true, Class: "healthy"},
		p("e3", "w2"): {Emitted: t0, Deliverable: true, Class: "slow"},
		p("e4", "w3"): {Emitted: t0, Deliverable: false, Class: "refusing"},
	}
	arrivals := map[Pair][]time.Time{
		p("e1", "w1"): {t0.Add(300 * time.Millisecond), t0.Add(100 * time.Millisecond)}, // retried: one duplicate
		p("e3", "w2"): {t0.Add(2 * time.Second)},
		p("e9", "w1"): {t0}, // nobody sent this
	}
	r := Reconcile(expected, arrivals)
	if r.Expected != 3 || r.Delivered != 2 || r.Missing != 1 || r.Duplicates != 1 || r.Unexpected != 1 || r.Undeliverable != 1 {
		t.Errorf("Reconcile = %+v", r)
	}
	if len(r.MissingPairs) != 1 || r.MissingPairs[0] != p("e2", "w1") {
		t.Errorf("missing pairs = %v, want e2→w1", r.MissingPairs)
	}
	if got := r.Latencies["healthy"]; len(got) != 1 || got[0] != 100*time.Millisecond {
		t.Errorf("healthy latencies = %v, want the first arrival: [100ms]", got)
	}
	if got := r.Latencies["slow"]; len(got) != 1 || got[0] != 2*time.Second {
		t.Errorf("slow latencies = %v", got)
	}
	if !r.First.Equal(t0) || !r.Last.Equal(t0.Add(2*time.Second)) {
		t.Errorf("window = %s .. %s", r.First, r.Last)
	}
}

func TestReportTable(t *testing.T) {
	r := Report{
		Setup: "sqlite", Scenario: "c", Events: 10, Machine: "test box",
		Phases: []Phase{{
			Name: "tidyhooks", Events: 10, Accepted: 10, AcceptedPerSec: 50, DeliveredPerSec: 42.5,
			Latency:        Latency{P50: 12 * time.Millisecond, P95: 30 * time.Millisecond, P99: 45 * time.Millisecond, Max: 50 * time.Millisecond},
			LatencyByClass: map[string]Latency{"slow": {P50: 2 * time.Second, P99: 2100 * time.Millisecond}},
			Reconciliation: Reconciliation{Expected: 9, Delivered: 9, Undeliverable: 1},
		}, {Name: "floor", DeliveredPerSec: 50, Reconciliation: Reconciliation{Expected: 9, Delivered: 9}}},
		FloorRatio: 0.85, LocalFloorRatio: 0.7, HistoryEvents: 8, FloorHistory: 11, LocalFloorHistory: 6,
	}
	var b bytes.Buffer
	r.WriteTable(&b)
	for _, want := range []string{"scenario c", "42.5", "45", "9/9", "slow endpoints: p50 2000 ms, p99 2100 ms", "1 pairs to refusing",
		"85 % of the bare one-activity floor, 70 % of the bare local-activity floor",
		"history events per event: 8 (one-activity floor: 11, local-activity floor: 6)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	if !r.OK() {
		t.Error("OK() = false for a run with nothing missing")
	}
	r.Phases[1].Missing = 1
	if r.OK() {
		t.Error("OK() = true with a missing delivery")
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{Scenario: "a", Events: 10, Concurrency: 1}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Config{
		"scenario":    {Scenario: "d", Events: 10, Concurrency: 1},
		"events":      {Scenario: "a", Events: 0, Concurrency: 1},
		"rate":        {Scenario: "a", Events: 10, Rate: -1, Concurrency: 1},
		"batch":       {Scenario: "a", Events: 10, Batch: 101, Concurrency: 1},
		"concurrency": {Scenario: "a", Events: 10, Concurrency: 0},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate() = nil, want an error", name)
		}
	}
}

// A statement's group is its database's for Temporal's, and for the app's
// the first of the delivery log, events and matching whose tables it names.
func TestStatementGroup(t *testing.T) {
	for _, tt := range []struct{ role, query, want string }{
		{"temporal", "UPDATE executions SET next_event_id = $1", GroupTemporalPersistence},
		{"visibility", "INSERT INTO executions_visibility (namespace_id) VALUES ($1)", GroupTemporalVisibility},
		{"app", "INSERT INTO deliveries (event_id, webhook_id) SELECT $1, $2 FROM events", GroupDeliveryLog},
		{"app", "UPDATE delivery_attempts SET status = $1", GroupDeliveryLog},
		{"app", "INSERT INTO delivery_stats_hours (webhook_id) VALUES ($1)", GroupDeliveryLog},
		{"app", "INSERT INTO events (id, payload) VALUES ($1, $2)", GroupEvents},
		{"app", "SELECT * FROM webhooks JOIN webhook_subscriptions ON true", GroupMatching},
		{"app", "SELECT token FROM oauth_tokens WHERE key = $1", GroupMatching},
		{"app", "SELECT 1 FROM api_keys WHERE prefix = $1", GroupAppOther},
		{"app", "SELECT events_new FROM t", GroupAppOther}, // a word boundary, not a prefix
	} {
		if got := group(tt.role, tt.query); got != tt.want {
			t.Errorf("group(%s, %q) = %q, want %q", tt.role, tt.query, got, tt.want)
		}
	}
}
