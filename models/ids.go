package models

import (
	"crypto/rand"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
)

// entropy is crypto-random and, within one millisecond, increasing, so that
// ids made in one millisecond sort in the order they were made.
var entropy = &ulid.LockedMonotonicReader{MonotonicReader: ulid.Monotonic(rand.Reader, 0)}

// lastMs is the newest millisecond an id carries: an id made after the
// clock stepped back carries it instead of the earlier time, so that ids
// of one process never go backwards.
var lastMs atomic.Uint64

// NewID returns prefix + "_" + a ULID (26 characters of Crockford base32:
// 48 bits of milliseconds then 80 random bits), so ids of one prefix sort
// by creation time.
func NewID(prefix string, now time.Time) string {
	ms := ulid.Timestamp(now)
	for {
		prev := lastMs.Load()
		if ms <= prev {
			ms = prev
			break
		}
		if lastMs.CompareAndSwap(prev, ms) {
			break
		}
	}
	// The entropy's increments cannot run out of 80 bits within a
	// millisecond in practice; MustNew panics only if they did.
	return prefix + "_" + ulid.MustNew(ms, entropy).String()
}
