package models_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/models"
)

func TestRetryWaitJitter(t *testing.T) {
	p := models.RetryPolicy{Schedule: []time.Duration{5 * time.Second, time.Minute}}
	tests := []struct {
		position int
		u        float64
		want     time.Duration
	}{
		{1, 0, 4 * time.Second},
		{1, 0.5, 5 * time.Second},
		{1, 0.999999, 5999999 * time.Microsecond},
		{2, 0, 48 * time.Second},
		{9, 0.5, time.Minute}, // past the end: the last entry
	}
	for _, tt := range tests {
		got := p.Wait(tt.position, tt.u)
		if d := got - tt.want; d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("Wait(position %d, u %v) = %s, want %s", tt.position, tt.u, got, tt.want)
		}
	}
}

func TestRetryDecide(t *testing.T) {
	p := models.RetryPolicy{Schedule: []time.Duration{10 * time.Second, time.Minute}, RetryAfterCap: 30 * time.Second}
	const u = 0.5 // no jitter
	sched, manual, recov, test := models.TriggerScheduled, models.TriggerManual, models.TriggerRecover, models.TriggerTest
	tests := []struct {
		name string
		in   models.AttemptResult
		want models.Verdict
	}{
		{"2xx", models.AttemptResult{Trigger: sched, Position: 1, Delivered: true, StatusCode: 200},
			models.Verdict{End: models.EndDelivered, Status: models.DeliveryDelivered}},
		{"2xx on the last attempt", models.AttemptResult{Trigger: sched, Position: 3, Delivered: true, StatusCode: 204},
			models.Verdict{End: models.EndDelivered, Status: models.DeliveryDelivered}},
		{"manual 2xx ends a due retry too", models.AttemptResult{Trigger: manual, Position: 1, Delivered: true, StatusCode: 200},
			models.Verdict{End: models.EndDelivered, Status: models.DeliveryDelivered}},
		{"500 first: the schedule's first wait", models.AttemptResult{Trigger: sched, Position: 1, StatusCode: 500},
			models.Verdict{End: models.EndRetry, Wait: 10 * time.Second, Status: models.DeliveryPending}},
		{"no answer second: the second wait", models.AttemptResult{Trigger: sched, Position: 2},
			models.Verdict{End: models.EndRetry, Wait: time.Minute, Status: models.DeliveryPending}},
		{"500 on the last attempt", models.AttemptResult{Trigger: sched, Position: 3, StatusCode: 500},
			models.Verdict{End: models.EndExhausted, Status: models.DeliveryFailed}},
		{"Retry-After below the cap", models.AttemptResult{Trigger: sched, Position: 1, StatusCode: 429, RetryAfter: 20 * time.Second},
			models.Verdict{End: models.EndRetry, Wait: 20 * time.Second, Status: models.DeliveryPending}},
		{"Retry-After over the cap", models.AttemptResult{Trigger: sched, Position: 2, StatusCode: 503, RetryAfter: time.Hour},
			models.Verdict{End: models.EndRetry, Wait: 30 * time.Second, Status: models.DeliveryPending}},
		{"Retry-After on the last attempt ends it", models.AttemptResult{Trigger: sched, Position: 3, StatusCode: 429, RetryAfter: time.Second},
			models.Verdict{End: models.EndExhausted, Status: models.DeliveryFailed}},
		{"410 pauses", models.AttemptResult{Trigger: sched, Position: 2, StatusCode: 410},
			models.Verdict{End: models.EndGone, Status: models.DeliveryFailed, PauseWebhook: true}},
		{"410 to a recover pauses, a due retry stays", models.AttemptResult{Trigger: recov, Position: 1, StatusCode: 410},
			models.Verdict{End: models.EndGone, Status: models.DeliveryFailed, PauseWebhook: true, KeepDueRetry: true}},
		{"410 to a test does not pause", models.AttemptResult{Trigger: test, StatusCode: 410},
			models.Verdict{End: models.EndOnce, Status: models.DeliveryFailed, KeepDueRetry: true}},
		{"410 to a manual retry does not pause", models.AttemptResult{Trigger: manual, Position: 1, StatusCode: 410},
			models.Verdict{End: models.EndOnce, Status: models.DeliveryFailed, KeepDueRetry: true}},
		{"blocked: retrying cannot help", models.AttemptResult{Trigger: sched, Position: 1, Blocked: true},
			models.Verdict{End: models.EndBlocked, Status: models.DeliveryFailed}},
		{"failed recover keeps a due retry", models.AttemptResult{Trigger: recov, Position: 2, StatusCode: 500},
			models.Verdict{End: models.EndOnce, Status: models.DeliveryFailed, KeepDueRetry: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.Decide(tt.in, u)
			if got != tt.want {
				t.Errorf("Decide(%+v) = %+v, want %+v", tt.in, got, tt.want)
			}
			if got.End.Final() != (got.Wait == 0) {
				t.Errorf("%s: Final() = %v with wait %s", got.End, got.End.Final(), got.Wait)
			}
		})
	}
}

func TestBeforeAttempt(t *testing.T) {
	tests := []struct {
		name     string
		trigger  models.AttemptTrigger
		delivery models.DeliveryStatus
		webhook  models.WebhookStatus
		want     models.End
	}{
		{"first attempt", models.TriggerScheduled, "", models.WebhookActive, ""},
		{"retry", models.TriggerScheduled, models.DeliveryPending, models.WebhookActive, ""},
		{"delivered meanwhile", models.TriggerScheduled, models.DeliveryDelivered, models.WebhookActive, models.EndDelivered},
		{"skipped meanwhile", models.TriggerScheduled, models.DeliverySkipped, models.WebhookActive, models.EndSkipped},
		{"paused webhook", models.TriggerScheduled, models.DeliveryPending, models.WebhookPaused, models.EndSkipped},
		{"recover to a paused webhook", models.TriggerRecover, models.DeliveryFailed, models.WebhookPaused, models.EndSkipped},
		{"manual retry of a delivered one", models.TriggerManual, models.DeliveryDelivered, models.WebhookActive, ""},
		{"manual retry to a paused webhook", models.TriggerManual, models.DeliveryFailed, models.WebhookPaused, ""},
		{"test to a paused webhook", models.TriggerTest, "", models.WebhookPaused, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := models.BeforeAttempt(tt.trigger, tt.delivery, tt.webhook); got != tt.want {
				t.Errorf("BeforeAttempt = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRetryPolicyValidate(t *testing.T) {
	ok := models.RetryPolicy{Schedule: models.DefaultRetrySchedule, RetryAfterCap: models.DefaultRetryAfterCap}
	if err := ok.Validate(); err != nil {
		t.Fatalf("the default policy: %v", err)
	}
	if got, want := ok.Attempts(), 10; got != want {
		t.Errorf("attempts = %d, want %d (SPEC §4)", got, want)
	}
	bad := map[string]models.RetryPolicy{
		"empty schedule":     {RetryAfterCap: time.Hour},
		"zero wait":          {Schedule: []time.Duration{0}, RetryAfterCap: time.Hour},
		"wait too long":      {Schedule: []time.Duration{models.MaxRetryWait + time.Second}, RetryAfterCap: time.Hour},
		"no Retry-After cap": {Schedule: []time.Duration{time.Second}},
		"cap too long":       {Schedule: []time.Duration{time.Second}, RetryAfterCap: models.MaxRetryWait + 1},
	}
	for name, p := range bad {
		var verr *models.ValidationError
		if err := p.Validate(); !errors.As(err, &verr) {
			t.Errorf("%s: Validate() = %v, want a validation error", name, err)
		}
	}
	// The longest wait, jitter included, is within LongestRetryWait.
	if got := (models.RetryPolicy{Schedule: []time.Duration{models.MaxRetryWait}}).Wait(1, 0.9999999); got > models.LongestRetryWait {
		t.Errorf("longest wait %s over LongestRetryWait %s", got, models.LongestRetryWait)
	}
}
