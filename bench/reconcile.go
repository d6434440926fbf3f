package bench

import (
	"time"
)

// Expected is a pair that must arrive, emitted at Emitted. Deliverable is
// false for pairs whose endpoint refuses connections by design.
type Expected struct {
	Emitted     time.Time
	Deliverable bool
	Class       string // endpoint class, for per-class latency: "healthy", "slow", "refusing"
}

// Reconciliation is the outcome of matching arrivals to expected pairs.
type Reconciliation struct {
	Expected      int                        `json:"expected"`
	Delivered     int                        `json:"delivered"`
	Missing       int                        `json:"missing"`
	Duplicates    int                        `json:"duplicates"`
	Unexpected    int                        `json:"unexpected"`
	Undeliverable int                        `json:"undeliverable"`
	MissingPairs  []Pair                     `json:"missingPairs,omitempty"`
	Latencies     map[string][]time.Duration `json:"-"` // first arrival minus emit, per class
	First, Last   time.Time                  `json:"-"` // first emit, last first-arrival
}

// Reconcile matches every expected pair with its arrivals: a deliverable
// pair that never arrived is missing, every arrival after the first is a
// duplicate, and an arrival nobody expected is unexpected.
func Reconcile(expected map[Pair]Expected, arrivals map[Pair][]time.Time) Reconciliation {
	r := Reconciliation{Latencies: map[string][]time.Duration{}}
	for p, e := range expected {
		if r.First.IsZero() || e.Emitted.Before(r.First) {
			r.First = e.Emitted
		}
		got := arrivals[p]
		if !e.Deliverable {
			r.Undeliverable++
			r.Duplicates += max(len(got)-1, 0)
			continue
		}
		r.Expected++
		if len(got) == 0 {
			r.Missing++
			if len(r.MissingPairs) < 20 {
				r.MissingPairs = append(r.MissingPairs, p)
			}
			continue
		}
		r.Delivered++
		r.Duplicates += len(got) - 1
		first := got[0]
		for _, t := range got[1:] {
			if t.Before(first) {
				first = t
			}
		}
		r.Latencies[e.Class] = append(r.Latencies[e.Class], first.Sub(e.Emitted))
		if first.After(r.Last) {
			r.Last = first
		}
	}
	for p := range arrivals {
		if _, ok := expected[p]; !ok {
			r.Unexpected++
		}
	}
	return r
}
