// Package bench measures TidySupport Webhooks end to end: loopback
// receivers that timestamp every arrival, reconciliation of every (event,
// webhook) pair, latency percentiles and the report; and the floor, a bare
// one-activity Temporal workflow posting the same body, that our
// throughput is compared with. It imports models and the Temporal SDK;
// nothing of the service's internals.
package bench

import (
	"slices"
	"time"
)

// Latency summarises a set of durations.
type Latency struct {
	P50 time.Duration `json:"p50"`
	P95 time.Duration `json:"p95"`
	P99 time.Duration `json:"p99"`
	Max time.Duration `json:"max"`
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted durations, 0 for none.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100 + 0.999999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Summarize returns the percentiles of ds.
func Summarize(ds []time.Duration) Latency {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return Latency{}
	}
	return Latency{P50: Percentile(s, 50), P95: Percentile(s, 95), P99: Percentile(s, 99), Max: s[len(s)-1]}
}
