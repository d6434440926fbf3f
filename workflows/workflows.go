// Package workflows holds the durable delivery logic: one DeliverEvent
// workflow per emitted event; TestWebhook, Redeliver and Recover for what a
// customer asks for; and the constants every process shares (task queue,
// search attributes). It imports activities and models; never api,
// worker or store. Workflow code here must stay deterministic.
package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/tidysupport/tidyhooks/activities"
	"github.com/tidysupport/tidyhooks/models"
)

// TaskQueue is the task queue of every tidyhooks worker.
const TaskQueue = "tidyhooks-deliveries"

// Search attributes set on every DeliverEvent workflow, so that an operator
// can find deliveries in the Temporal UI by workspace, event and webhook.
var (
	WorkspaceAttr = temporal.NewSearchAttributeKeyKeyword("TidyWorkspace")
	EventAttr     = temporal.NewSearchAttributeKeyKeyword("TidyEvent")
	WebhooksAttr  = temporal.NewSearchAttributeKeyKeywordList("TidyWebhooks")
)

// MaxRetryInterval is the longest wait between attempts the workflow lets
// the delivery activity ask for. Temporal caps an activity's NextRetryDelay
// at the retry policy's MaximumInterval, so every schedule entry (with its
// jitter) and the Retry-After cap must stay below it.
const MaxRetryInterval = 48 * time.Hour

// AttemptTimeout bounds one delivery attempt, HTTP and bookkeeping; the
// HTTP timeout is capped below it. It is also how long an attempt lost
// with a crashed worker waits before Temporal retries it.
const AttemptTimeout = 30 * time.Second

// DeliverEventInput names the event. The payload stays in the database,
// out of history, so retries long after the workflow closed still find it.
type DeliverEventInput struct {
	EventID     string
	WorkspaceID string
	EventType   string // enum name
}

// Outcomes of one webhook's delivery in DeliverEventResult.
const (
	OutcomeDelivered = activities.OutcomeDelivered
	OutcomeSkipped   = activities.OutcomeSkipped
	OutcomeFailed    = "failed"
	OutcomePaused    = "paused" // 410 Gone paused the webhook
)

// WebhookOutcome is what happened to the event at one webhook.
type WebhookOutcome struct {
	WebhookID  string
	Outcome    string
	Attempts   int32
	StatusCode int    `json:",omitempty"` // of the last attempt
	LatencyMs  int64  `json:",omitempty"` // of the last attempt
	Error      string `json:",omitempty"`
}

// DeliverEventResult lists every matched webhook's outcome.
type DeliverEventResult struct {
	Webhooks []WebhookOutcome
}

// DeliverEvent matches the event against the workspace's webhooks as they
// are now and delivers it to each concurrently, each with its own retries.
// One webhook's failure does not fail the workflow or hold up the others.
func DeliverEvent(ctx workflow.Context, in DeliverEventInput) (DeliverEventResult, error) {
	var a *activities.Activities
	matchCtx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second},
	})
	deliverCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: AttemptTimeout,
		// The activity sets NextRetryDelay from the deployment's schedule and
		// ends retries itself; this policy only covers crashes and timeouts.
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    5 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    MaxRetryInterval,
		},
	})

	var match activities.MatchResult
	err := workflow.ExecuteLocalActivity(matchCtx, a.MatchWebhooks, activities.MatchInput{
		WorkspaceID: in.WorkspaceID, EventType: in.EventType,
	}).Get(ctx, &match)
	if err != nil {
		return DeliverEventResult{}, err
	}
	if len(match.WebhookIDs) == 0 {
		return DeliverEventResult{}, nil
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, WebhooksAttr.ValueSet(match.WebhookIDs)); err != nil {
		return DeliverEventResult{}, err
	}

	futures := make([]workflow.Future, len(match.WebhookIDs))
	for i, id := range match.WebhookIDs {
		futures[i] = workflow.ExecuteActivity(deliverCtx, a.Deliver, activities.DeliverInput{EventID: in.EventID, WebhookID: id})
	}
	result := DeliverEventResult{Webhooks: make([]WebhookOutcome, len(futures))}
	for i, f := range futures {
		result.Webhooks[i] = outcome(ctx, match.WebhookIDs[i], f)
	}
	workflow.GetLogger(ctx).Info("event delivered", "event_id", in.EventID, "webhooks", len(result.Webhooks))
	return result, nil
}

func outcome(ctx workflow.Context, webhookID string, f workflow.Future) WebhookOutcome {
	var res activities.DeliverResult
	err := f.Get(ctx, &res)
	if err == nil {
		return WebhookOutcome{WebhookID: webhookID, Outcome: res.Outcome, Attempts: res.Attempt, StatusCode: res.StatusCode, LatencyMs: res.LatencyMs, Error: res.Reason}
	}
	o := WebhookOutcome{WebhookID: webhookID, Outcome: OutcomeFailed, Error: err.Error()}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		o.Error = appErr.Error()
		var (
			attempt int32
			status  int
			latency int64
		)
		if appErr.HasDetails() && appErr.Details(&attempt, &status, &latency) == nil {
			o.Attempts, o.StatusCode, o.LatencyMs = attempt, status, latency
		}
		if appErr.Type() == activities.ErrTypeGone {
			o.Outcome = OutcomePaused
		}
	}
	return o
}

// TestWebhookInput names a stored testing.connection event and the
// webhook to send it to.
type TestWebhookInput struct {
	EventID   string
	WebhookID string
}

// TestWebhook sends a testing.connection event to one webhook once, now,
// whatever its status, and returns the attempt's outcome. It is a
// workflow so that the attempt shows in the Temporal UI like any other.
func TestWebhook(ctx workflow.Context, in TestWebhookInput) (WebhookOutcome, error) {
	return attemptOnce(ctx, activities.DeliverInput{EventID: in.EventID, WebhookID: in.WebhookID, Test: true}), nil
}

// onceOptions run the delivery activity once: a test, a manual retry or a
// recover's attempt is reported, not retried.
var onceOptions = workflow.ActivityOptions{
	StartToCloseTimeout: AttemptTimeout,
	RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
}

// attemptOnce runs one delivery attempt and returns its outcome.
func attemptOnce(ctx workflow.Context, in activities.DeliverInput) WebhookOutcome {
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, onceOptions)
	return outcome(ctx, in.WebhookID, workflow.ExecuteActivity(ctx, a.Deliver, in))
}

// RedeliverInput names a delivery to attempt again now.
type RedeliverInput struct {
	EventID   string
	WebhookID string
}

// Redeliver makes one manual attempt of an event at a webhook, with the
// event's own webhook-id, and returns its outcome. It is recorded in the
// delivery's log as manual.
func Redeliver(ctx workflow.Context, in RedeliverInput) (WebhookOutcome, error) {
	return attemptOnce(ctx, activities.DeliverInput{EventID: in.EventID, WebhookID: in.WebhookID, Trigger: models.TriggerManual}), nil
}

// Recover sizes: deliveries attempted at once, and pages per run before
// the workflow continues as new to keep its history short.
const (
	RecoverPageSize    = 20
	RecoverPagesPerRun = 25
)

// RecoverInput names the webhook and the window of deliveries to redeliver.
// After and the counts carry progress across continue-as-new.
type RecoverInput struct {
	WebhookID string
	Since     time.Time
	Until     time.Time
	After     string `json:",omitempty"`
	Attempted int    `json:",omitempty"`
	Delivered int    `json:",omitempty"`
}

// RecoverResult counts what a recover did.
type RecoverResult struct {
	Attempted int
	Delivered int
}

// Recover redelivers, once each and oldest first, every delivery of the
// webhook created in [Since, Until) that failed or was skipped, a page at a
// time. Each attempt is recorded in its delivery's log as a recover.
func Recover(ctx workflow.Context, in RecoverInput) (RecoverResult, error) {
	var a *activities.Activities
	pageCtx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second},
	})
	deliverCtx := workflow.WithActivityOptions(ctx, onceOptions)
	for range RecoverPagesPerRun {
		var page activities.RecoverPageResult
		err := workflow.ExecuteLocalActivity(pageCtx, a.RecoverPage, activities.RecoverPageInput{
			WebhookID: in.WebhookID, Since: in.Since, Until: in.Until, After: in.After, Limit: RecoverPageSize,
		}).Get(ctx, &page)
		if err != nil {
			return RecoverResult{}, err
		}
		if len(page.Items) == 0 {
			workflow.GetLogger(ctx).Info("recover done", "webhook_id", in.WebhookID, "attempted", in.Attempted, "delivered", in.Delivered)
			return RecoverResult{Attempted: in.Attempted, Delivered: in.Delivered}, nil
		}
		futures := make([]workflow.Future, len(page.Items))
		for i, item := range page.Items {
			futures[i] = workflow.ExecuteActivity(deliverCtx, a.Deliver, activities.DeliverInput{
				EventID: item.EventID, WebhookID: in.WebhookID, Trigger: models.TriggerRecover,
			})
		}
		for _, f := range futures {
			if outcome(ctx, in.WebhookID, f).Outcome == OutcomeDelivered {
				in.Delivered++
			}
		}
		in.Attempted += len(page.Items)
		in.After = page.Items[len(page.Items)-1].DeliveryID
	}
	return RecoverResult{}, workflow.NewContinueAsNewError(ctx, Recover, in)
}
