package models

import (
	"net/http"
	"time"
)

// This file is the one home of the retry decisions: where an attempt sits
// in the schedule, what each answer does to its delivery, and how a
// delivery ends. The delivery activity asks RetryPolicy what to do before
// and after each attempt and records what it is told; the store writes the
// status it is given; the workflow waits as long as the verdict says.

// DefaultRetrySchedule is SPEC §4's wait before each retry after the first
// attempt: ten attempts over about three days.
var DefaultRetrySchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
}

const (
	// DefaultRetryAfterCap is the longest Retry-After a 429 or 503 may ask
	// for by default.
	DefaultRetryAfterCap = time.Hour
	// RetryJitter spreads each wait of the schedule by ±20 %, so that
	// deliveries that failed together do not all retry together.
	RetryJitter = 0.2
	// MaxRetryWait is the longest entry of a schedule and the highest
	// Retry-After cap. With its jitter a wait stays below LongestRetryWait,
	// which is what the workflow's retry policy must allow (Temporal caps
	// an activity's NextRetryDelay at its policy's MaximumInterval).
	MaxRetryWait     = 36 * time.Hour
	LongestRetryWait = MaxRetryWait + MaxRetryWait/5 // MaxRetryWait × (1 + RetryJitter)
)

// RetryPolicy is a deployment's retry schedule.
type RetryPolicy struct {
	// Schedule[i] is the wait after the (i+1)th scheduled attempt failed;
	// after len(Schedule)+1 failed attempts the delivery has failed.
	Schedule []time.Duration
	// RetryAfterCap bounds the wait a 429 or 503 asks for with Retry-After.
	RetryAfterCap time.Duration
}

// Validate checks that every wait is positive and at most MaxRetryWait.
func (p RetryPolicy) Validate() error {
	if len(p.Schedule) == 0 {
		return Invalid("schedule", "must have at least one wait")
	}
	for _, d := range p.Schedule {
		if d <= 0 || d > MaxRetryWait {
			return Invalid("schedule", "%s: each wait must be positive and at most %s", d, MaxRetryWait)
		}
	}
	if p.RetryAfterCap <= 0 || p.RetryAfterCap > MaxRetryWait {
		return Invalid("retryAfterCap", "%s: must be positive and at most %s", p.RetryAfterCap, MaxRetryWait)
	}
	return nil
}

// Attempts is how many scheduled attempts a delivery gets.
func (p RetryPolicy) Attempts() int { return len(p.Schedule) + 1 }

// Horizon is how long after an event its last scheduled retry may come,
// jitter included, and an hour: the shortest log retention that keeps every
// event until then.
func (p RetryPolicy) Horizon() time.Duration {
	var total time.Duration
	for _, d := range p.Schedule {
		total += d
	}
	return (total*6/5 + time.Hour).Round(time.Hour)
}

// Wait is the wait after the scheduled attempt at position (1-based) failed:
// its schedule entry (the last for a position past the end) scaled by a
// factor in [0.8, 1.2) picked by u in [0, 1).
func (p RetryPolicy) Wait(position int, u float64) time.Duration {
	i := min(max(position-1, 0), len(p.Schedule)-1)
	factor := 1 - RetryJitter + 2*RetryJitter*u
	return time.Duration(float64(p.Schedule[i]) * factor)
}

// End is how an attempt leaves its delivery.
type End string

const (
	EndDelivered End = "delivered" // a 2xx: the delivery is done
	EndRetry     End = "retry"     // failed; the schedule tries again after Verdict.Wait
	EndExhausted End = "exhausted" // failed, and it was the schedule's last attempt
	EndGone      End = "gone"      // 410 Gone: the webhook is paused, no retry
	EndBlocked   End = "blocked"   // the destination is not allowed: retrying cannot help
	EndOnce      End = "once"      // a failed manual, recover or test attempt: reported, not retried
	EndSkipped   End = "skipped"   // not attempted: the webhook is paused or deleted
)

// Final reports whether no scheduled attempt follows.
func (e End) Final() bool { return e != EndRetry }

// BeforeAttempt decides whether an attempt is made at all, given what
// asked for it, its delivery's status so far ("" before the first attempt)
// and its webhook's status. It returns "" to go ahead, or the end the
// delivery has already reached: a scheduled attempt stops at a delivery a
// manual retry, a recover or a lost worker's attempt already delivered, or
// a pause skipped; a paused webhook receives only tests and manual retries.
func BeforeAttempt(trigger AttemptTrigger, delivery DeliveryStatus, webhook WebhookStatus) (End, string) {
	if trigger == TriggerScheduled {
		switch delivery {
		case DeliveryDelivered:
			return EndDelivered, "delivered by an earlier attempt"
		case DeliverySkipped:
			return EndSkipped, "skipped while the webhook was paused"
		}
	}
	if webhook != WebhookActive && trigger != TriggerTest && trigger != TriggerManual {
		return EndSkipped, "webhook paused"
	}
	return "", ""
}

// AttemptResult is what one attempt met.
type AttemptResult struct {
	Trigger AttemptTrigger
	// Position is the attempt's place in the schedule: the delivery's
	// scheduled attempts so far, this one included. A try that stopped
	// before sending (the database down, the webhook at its bound in
	// flight) is not an attempt and does not move it.
	Position   int
	Delivered  bool          // a 2xx
	StatusCode int           // 0 without an answer
	Blocked    bool          // the destination guard refused the address
	RetryAfter time.Duration // asked for by a 429 or 503; 0 if not
}

// Verdict is RetryPolicy's decision on one attempt.
type Verdict struct {
	End End
	// Wait is how long until the next scheduled attempt when End is
	// EndRetry: the schedule's, or a capped Retry-After.
	Wait time.Duration
	// Status is the delivery's status from now on. KeepDueRetry, set for a
	// failed one-off attempt, means a scheduled retry still due keeps the
	// delivery pending: a manual retry that fails does not end the
	// schedule.
	Status       DeliveryStatus
	KeepDueRetry bool
	// PauseWebhook: the endpoint said it is gone for good.
	PauseWebhook bool
}

// Decide is what follows an attempt; u in [0, 1) picks the jitter.
func (p RetryPolicy) Decide(r AttemptResult, u float64) Verdict {
	switch {
	case r.Delivered:
		return Verdict{End: EndDelivered, Status: DeliveryDelivered}
	case r.StatusCode == http.StatusGone && r.Trigger != TriggerTest && r.Trigger != TriggerManual:
		// Gone pauses the webhook, except when a person is trying it out.
		return Verdict{End: EndGone, Status: DeliveryFailed, PauseWebhook: true, KeepDueRetry: r.Trigger != TriggerScheduled}
	case r.Trigger != TriggerScheduled:
		return Verdict{End: EndOnce, Status: DeliveryFailed, KeepDueRetry: true}
	case r.Blocked:
		return Verdict{End: EndBlocked, Status: DeliveryFailed}
	case r.Position >= p.Attempts():
		return Verdict{End: EndExhausted, Status: DeliveryFailed}
	}
	wait := p.Wait(r.Position, u)
	if r.RetryAfter > 0 {
		wait = min(r.RetryAfter, p.RetryAfterCap)
	}
	return Verdict{End: EndRetry, Wait: wait, Status: DeliveryPending}
}
