// Package workflows holds the durable delivery logic: one DeliverEvent
// workflow per emitted event; TestWebhook, Redeliver and Recover for what a
// customer asks for; and the constants every process shares (task queue,
// search attributes). It imports activities and models; never api,
// worker or store. Workflow code here must stay deterministic.
package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/tidysupport/tidyhooks/activities"
	"github.com/tidysupport/tidyhooks/models"
)

// TaskQueue is the task queue of every tidyhooks worker.
const TaskQueue = "tidyhooks-deliveries"

// Search attributes of the delivery workflows (DeliverEvent and its
// DeliverToWebhooks children), so that an operator can find deliveries in
// the Temporal UI by workspace, event type, webhook and outcome; the
// worker registers them on the namespace (worker.SearchAttributes).
var (
	WorkspaceAttr = temporal.NewSearchAttributeKeyKeyword("TidyWorkspace")
	EventAttr     = temporal.NewSearchAttributeKeyKeyword("TidyEvent")
	WebhooksAttr  = temporal.NewSearchAttributeKeyKeywordList("TidyWebhooks")
	// FailedWebhooksAttr lists, once the workflow has ended, the webhooks
	// it did not deliver to (failed for good, or paused by a 410):
	// "every failed delivery to webhook X this week" is one query.
	FailedWebhooksAttr = temporal.NewSearchAttributeKeyKeywordList("TidyFailedWebhooks")
	// OutcomeAttr, set beside FailedWebhooksAttr, says whether the event
	// failed at every webhook (OutcomeFailed) or at some (OutcomePartial).
	// A workflow that delivered everywhere has none: setting it would add
	// an event to every history.
	OutcomeAttr = temporal.NewSearchAttributeKeyKeyword("TidyOutcome")
)

// MaxRetryInterval is the longest wait between attempts the workflow lets
// the delivery activity ask for. Temporal caps an activity's NextRetryDelay
// at the retry policy's MaximumInterval, so every wait the retry policy can
// decide (models.LongestRetryWait) must stay below it.
const MaxRetryInterval = 48 * time.Hour

// The build fails if a retry wait could exceed MaxRetryInterval.
const _ = uint64(MaxRetryInterval - models.LongestRetryWait)

// AttemptTimeout bounds one delivery attempt, HTTP and bookkeeping; the
// HTTP timeout is capped below it. It is also how long an attempt lost
// with a crashed worker waits before Temporal retries it.
const AttemptTimeout = 30 * time.Second

// EventWorkflowID is the id of an event's DeliverEvent workflow: the event
// id "@" its workspace ("evt_order_1001@wrk_a"). An event id is unique
// within its workspace only, so the workspace is part of it; it starts with
// the event id, so that the Temporal UI finds an event with
// WorkflowId STARTS_WITH "evt_order_1001@". Neither id may hold "@" or ".",
// and "@" and "." need no escaping in a URL path.
func EventWorkflowID(workspaceID, eventID string) string {
	return eventID + "@" + workspaceID
}

// Fairness returns the priority every workflow and activity of a workspace
// runs with: its fairness key is the workspace, so that Temporal's
// task-queue fairness shares the workers between workspaces by turns
// instead of in arrival order.
func Fairness(workspaceID string) temporal.Priority {
	return temporal.Priority{FairnessKey: workspaceID}
}

// WebhooksPerWorkflow is how many webhooks one workflow delivers an event
// to and lists in TidyWebhooks. A keyword list of 32 webhook ids is about
// 1 KiB, half of Temporal's default 2 KiB limit on a search attribute's
// value; past it the workflow would be terminated. An event that matches
// more webhooks delivers to each group of them in a child workflow of its
// own (DeliverToWebhooks) that lists that group.
const WebhooksPerWorkflow = 32

// MaxWebhooksPerEvent is the most webhooks one event may fan out to, and so
// the highest webhooks-per-workspace limit a deployment may configure: an
// event's workflow starts one child per WebhooksPerWorkflow webhooks, and
// 1,000 webhooks keep its history near a hundred events.
const MaxWebhooksPerEvent = 1000

// DeliverEventInput names the event. The payload stays in the database,
// out of history, so retries long after the workflow closed still find it.
type DeliverEventInput struct {
	EventID     string
	WorkspaceID string
	EventType   string // enum name
	// FirstAttemptLocal makes each webhook's first attempt a local
	// activity (the fast path), and has the workflow list the webhooks it
	// did not deliver to in TidyFailedWebhooks when it ends. Workflows
	// started before it existed lack it and replay as they ran: every
	// attempt an activity, no such list. A flag in the
	// input rather than workflow.GetVersion, whose marker and search
	// attribute upsert would add two events to every history.
	FirstAttemptLocal bool `json:",omitempty"`
}

// Outcomes of one webhook's delivery in DeliverEventResult.
const (
	OutcomeDelivered = activities.OutcomeDelivered
	OutcomeSkipped   = activities.OutcomeSkipped
	OutcomeFailed    = "failed"
	OutcomePaused    = "paused" // 410 Gone paused the webhook
	// OutcomeQueued is a webhook that takes the event's conversation in
	// order: its DeliverInOrder workflow delivers it.
	OutcomeQueued = "queued"
	// OutcomePartial is TidyOutcome's value for an event delivered to some
	// of its webhooks and not to others.
	OutcomePartial = "partial"
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

// lookupOptions run a database read in the worker's own workflow task,
// retried a few times at once; after that the database is taken to be down
// and the read moves to durableLookupOptions.
var lookupOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout: 10 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval: 200 * time.Millisecond, MaximumInterval: 2 * time.Second, MaximumAttempts: 3,
	},
}

// durableLookupOptions wait out an outage of any length: the server retries
// the activity with a capped backoff and no deadline, and a retry adds
// nothing to the workflow's history, however long the outage lasts. (A
// local activity retried that long would keep its workflow task open and
// write a heartbeat into history every few seconds.)
var durableLookupOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
	},
}

// lookup runs a read-only activity as a local activity and, if that keeps
// failing for a reason retrying may cure, as an activity retried until the
// database answers.
func lookup(ctx workflow.Context, activity, in, out any) error {
	err := workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, lookupOptions), activity, in).Get(ctx, out)
	if err == nil || isNonRetryable(err) {
		return err
	}
	workflow.GetLogger(ctx).Warn("lookup failed; retrying until the database answers", "error", err)
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, durableLookupOptions), activity, in).Get(ctx, out)
}

// deliverOptions run one webhook's delivery with the retry schedule.
var deliverOptions = workflow.ActivityOptions{
	StartToCloseTimeout: AttemptTimeout,
	// The activity sets NextRetryDelay from the deployment's schedule and
	// ends retries itself; this policy only covers crashes and timeouts.
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    5 * time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    MaxRetryInterval,
	},
}

// DeliverEvent matches the event against the workspace's webhooks as they
// are now and delivers it to each concurrently, each with its own retries.
// One webhook's failure does not fail the workflow or hold up the others.
// No dependency outage ends it: the lookup waits for the database to come
// back, and so does every delivery.
func DeliverEvent(ctx workflow.Context, in DeliverEventInput) (DeliverEventResult, error) {
	var a *activities.Activities
	var match activities.MatchResult
	err := lookup(ctx, a.MatchWebhooks, activities.MatchInput{WorkspaceID: in.WorkspaceID, EventType: in.EventType, EventID: in.EventID}, &match)
	if err != nil {
		return DeliverEventResult{}, err
	}
	if len(match.WebhookIDs) == 0 {
		return DeliverEventResult{}, nil
	}
	if len(match.Ordered) > 0 && match.ConversationID != "" &&
		workflow.GetVersion(ctx, queueBesideChange, workflow.DefaultVersion, queueBesideVersion) == queueBesideVersion {
		return deliverBesideQueue(ctx, in, match), nil
	}
	ids, queued, err := queueInOrder(ctx, in, match)
	if err != nil {
		return DeliverEventResult{}, err
	}
	return deliverMatched(ctx, in, ids, queued, true)
}

// queueBesideChange marks, with workflow.GetVersion, the change that
// queues an event for its ordered webhooks while it is delivered to the
// others, instead of first: a queueing that waited (for Temporal to take
// the ordered delivery's signal, say) held up every webhook of the
// event. Only events with ordered webhooks pay its marker.
const (
	queueBesideChange  = "queue-beside"
	queueBesideVersion = 1
)

// deliverBesideQueue delivers the event to its unordered webhooks while
// it is queued for the ordered ones; if Temporal refuses the ordered
// deliveries for good, they are delivered here too, unordered.
func deliverBesideQueue(ctx workflow.Context, in DeliverEventInput, match activities.MatchResult) DeliverEventResult {
	var unordered []string
	for _, id := range match.WebhookIDs {
		if !slices.Contains(match.Ordered, id) {
			unordered = append(unordered, id)
		}
	}
	var queueErr error
	queuedDone := false
	workflow.Go(ctx, func(ctx workflow.Context) {
		queueErr = queueEvent(ctx, in, match)
		queuedDone = true
	})
	res, err := deliverMatched(ctx, in, unordered, nil, false)
	if err != nil {
		workflow.GetLogger(ctx).Warn("list webhooks", "error", err)
	}
	// The failures this workflow lists are of the webhooks it delivers
	// to itself: more than WebhooksPerWorkflow went to children, which
	// list their own.
	own := res.Webhooks
	if len(unordered) > WebhooksPerWorkflow {
		own = nil
	}
	if err := workflow.Await(ctx, func() bool { return queuedDone }); err != nil {
		return res // cancelled
	}
	if queueErr == nil {
		listFailedWebhooks(ctx, own)
		res.Webhooks = append(res.Webhooks, queuedOutcomes(match)...)
		return res
	}
	// lookup retries all else until it succeeds: this refusal is final.
	workflow.GetLogger(ctx).Warn("cannot queue the event in order; delivering it unordered", "event_id", in.EventID, "error", queueErr)
	if len(match.WebhookIDs) <= WebhooksPerWorkflow {
		if err := workflow.UpsertTypedSearchAttributes(ctx, WebhooksAttr.ValueSet(match.WebhookIDs)); err != nil {
			workflow.GetLogger(ctx).Warn("list webhooks", "error", err)
		}
	}
	more := deliverToWebhooks(ctx, in.EventID, match.Ordered, in.FirstAttemptLocal, false)
	res.Webhooks = append(res.Webhooks, more.Webhooks...)
	listFailedWebhooks(ctx, append(slices.Clip(own), more.Webhooks...))
	return res
}

// deliverMatched delivers the event to ids, in this workflow or, for more
// than WebhooksPerWorkflow, in children, and adds queued (the outcomes of
// the ordered webhooks it was queued for). With listFailed the webhooks
// it did not deliver to are listed in TidyFailedWebhooks.
func deliverMatched(ctx workflow.Context, in DeliverEventInput, ids []string, queued []WebhookOutcome, listFailed bool) (DeliverEventResult, error) {
	match := activities.MatchResult{WebhookIDs: ids}
	if len(ids) <= WebhooksPerWorkflow {
		if len(ids) > 0 {
			if err := workflow.UpsertTypedSearchAttributes(ctx, WebhooksAttr.ValueSet(ids)); err != nil {
				return DeliverEventResult{}, err
			}
		}
		res := deliverToWebhooks(ctx, in.EventID, ids, in.FirstAttemptLocal, listFailed)
		res.Webhooks = append(res.Webhooks, queued...)
		workflow.GetLogger(ctx).Info("event delivered", "event_id", in.EventID, "webhooks", len(res.Webhooks))
		return res, nil
	}

	// Too many webhooks for one TidyWebhooks value: a child per group.
	typ, _ := models.LookupEvent(in.EventType) // MatchWebhooks has checked it
	var futures []workflow.ChildWorkflowFuture
	for i := 0; i < len(match.WebhookIDs); i += WebhooksPerWorkflow {
		group := match.WebhookIDs[i:min(i+WebhooksPerWorkflow, len(match.WebhookIDs))]
		childCtx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: fmt.Sprintf("%s.%d", EventWorkflowID(in.WorkspaceID, in.EventID), len(futures)+1),
			TypedSearchAttributes: temporal.NewSearchAttributes(
				WorkspaceAttr.ValueSet(in.WorkspaceID),
				EventAttr.ValueSet(typ.Wire),
				WebhooksAttr.ValueSet(group),
			),
			Priority: Fairness(in.WorkspaceID),
		})
		futures = append(futures, workflow.ExecuteChildWorkflow(childCtx, DeliverToWebhooks, DeliverToWebhooksInput{EventID: in.EventID, WebhookIDs: group, FirstAttemptLocal: in.FirstAttemptLocal}))
	}
	result := DeliverEventResult{Webhooks: make([]WebhookOutcome, 0, len(match.WebhookIDs))}
	for i, f := range futures {
		var part DeliverEventResult
		if err := f.Get(ctx, &part); err != nil {
			// A child ends only by being terminated or by a bug; its
			// webhooks are reported failed rather than dropped.
			group := match.WebhookIDs[i*WebhooksPerWorkflow : min((i+1)*WebhooksPerWorkflow, len(match.WebhookIDs))]
			for _, id := range group {
				result.Webhooks = append(result.Webhooks, WebhookOutcome{WebhookID: id, Outcome: OutcomeFailed, Error: err.Error()})
			}
			continue
		}
		result.Webhooks = append(result.Webhooks, part.Webhooks...)
	}
	result.Webhooks = append(result.Webhooks, queued...)
	workflow.GetLogger(ctx).Info("event delivered", "event_id", in.EventID, "webhooks", len(result.Webhooks), "workflows", len(futures))
	return result, nil
}

// queueInOrder hands the event to the ordered deliveries of the matched
// webhooks that take its conversation in order, and returns the webhooks
// left to deliver to here and the outcomes of those queued. An event
// without a conversation, or a match recorded before ordering existed,
// queues nothing.
func queueInOrder(ctx workflow.Context, in DeliverEventInput, match activities.MatchResult) ([]string, []WebhookOutcome, error) {
	if len(match.Ordered) == 0 || match.ConversationID == "" {
		return match.WebhookIDs, nil, nil
	}
	err := queueEvent(ctx, in, match)
	if isNonRetryable(err) {
		// Temporal refused the ordered deliveries: better delivered
		// unordered than not at all.
		workflow.GetLogger(ctx).Warn("cannot queue the event in order; delivering it unordered", "event_id", in.EventID, "error", err)
		return match.WebhookIDs, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var ids []string
	for _, id := range match.WebhookIDs {
		if !slices.Contains(match.Ordered, id) {
			ids = append(ids, id)
		}
	}
	return ids, queuedOutcomes(match), nil
}

// queueEvent hands the event to the ordered deliveries of match.Ordered.
// Waking an ordered delivery twice is harmless, so the queueing runs as a
// lookup does: locally, then durably until Temporal answers.
func queueEvent(ctx workflow.Context, in DeliverEventInput, match activities.MatchResult) error {
	var a *activities.Activities
	return lookup(ctx, a.QueueInOrder, activities.QueueInput{
		WorkspaceID: in.WorkspaceID, ConversationID: match.ConversationID,
		Event: activities.InOrderEvent{EventID: in.EventID, Seq: match.Seq}, WebhookIDs: match.Ordered,
	}, nil)
}

// queuedOutcomes are the outcomes of the ordered webhooks an event was
// queued for.
func queuedOutcomes(match activities.MatchResult) []WebhookOutcome {
	var queued []WebhookOutcome
	for _, id := range match.Ordered {
		queued = append(queued, WebhookOutcome{WebhookID: id, Outcome: OutcomeQueued,
			Error: "delivered in order by " + activities.InOrderWorkflowID(id, match.ConversationID)})
	}
	return queued
}

// DeliverToWebhooksInput names an event and a group of the webhooks it
// matched, at most WebhooksPerWorkflow.
type DeliverToWebhooksInput struct {
	EventID           string
	WebhookIDs        []string
	FirstAttemptLocal bool `json:",omitempty"` // as DeliverEventInput's
}

// DeliverToWebhooks delivers an event to one group of the webhooks it
// matched: DeliverEvent's child when an event matches more webhooks than
// one workflow lists. Its search attributes, set when it starts, name the
// group.
func DeliverToWebhooks(ctx workflow.Context, in DeliverToWebhooksInput) (DeliverEventResult, error) {
	return deliverToWebhooks(ctx, in.EventID, in.WebhookIDs, in.FirstAttemptLocal, true), nil
}

// firstAttemptOptions make an event's first attempt at a webhook a local
// activity, inside the workflow task: when it succeeds, as most do, the
// delivery costs no activity task at all. It is made once; a failure moves
// the delivery onto the durable path. The worker heartbeats the workflow
// task while it runs, so a slow endpoint is not attempted twice; a worker
// lost mid-attempt times the task out, and the next worker attempts again.
var firstAttemptOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout: AttemptTimeout,
	RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
}

// firstRetryDelay is the wait before the durable path's first attempt when
// the first attempt's failure named none (its worker timed out, say).
const firstRetryDelay = 5 * time.Second

// deliverToWebhooks delivers the event to each webhook concurrently: the
// first attempt at each as a local activity, and only where that fails, a
// durable wait for the delay the failure names (the schedule's next, or a
// capped Retry-After) and the delivery activity with its retries. With
// listFailed, the webhooks it did not deliver to are listed in
// TidyFailedWebhooks (an event's workflow, which ends with it); an
// ordered delivery, which goes on, lists none.
func deliverToWebhooks(ctx workflow.Context, eventID string, webhookIDs []string, firstAttemptLocal, listFailed bool) DeliverEventResult {
	var a *activities.Activities
	deliverCtx := workflow.WithActivityOptions(ctx, deliverOptions)
	result := DeliverEventResult{Webhooks: make([]WebhookOutcome, len(webhookIDs))}
	if !firstAttemptLocal {
		futures := make([]workflow.Future, len(webhookIDs))
		for i, id := range webhookIDs {
			futures[i] = workflow.ExecuteActivity(deliverCtx, a.Deliver, activities.DeliverInput{EventID: eventID, WebhookID: id})
		}
		for i, f := range futures {
			result.Webhooks[i] = outcome(ctx, webhookIDs[i], f)
		}
		return result
	}

	firstCtx := workflow.WithLocalActivityOptions(ctx, firstAttemptOptions)
	firsts := make([]workflow.Future, len(webhookIDs))
	for i, id := range webhookIDs {
		firsts[i] = workflow.ExecuteLocalActivity(firstCtx, a.Deliver, activities.DeliverInput{EventID: eventID, WebhookID: id})
	}
	durable := make([]workflow.Future, len(webhookIDs))
	for i, f := range firsts {
		err := f.Get(ctx, nil)
		if err == nil || isNonRetryable(err) {
			result.Webhooks[i] = outcome(ctx, webhookIDs[i], f)
			continue
		}
		delay := firstRetryDelay
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) {
			delay = appErr.NextRetryDelay()
		}
		in := activities.DeliverInput{EventID: eventID, WebhookID: webhookIDs[i]}
		future, settable := workflow.NewFuture(ctx)
		workflow.Go(ctx, func(ctx workflow.Context) {
			if delay > 0 {
				if err := workflow.Sleep(ctx, delay); err != nil {
					settable.Set(nil, err)
					return
				}
			}
			settable.Chain(workflow.ExecuteActivity(deliverCtx, a.Deliver, in))
		})
		durable[i] = future
	}
	for i, f := range durable {
		if f != nil {
			result.Webhooks[i] = outcome(ctx, webhookIDs[i], f)
			result.Webhooks[i].Attempts++ // the first, local attempt
		}
	}
	if listFailed {
		listFailedWebhooks(ctx, result.Webhooks)
	}
	return result
}

// listFailedWebhooks lists the webhooks of outcomes the workflow did not
// deliver to in TidyFailedWebhooks, with TidyOutcome partial or failed.
func listFailedWebhooks(ctx workflow.Context, outcomes []WebhookOutcome) {
	var failed []string
	for _, o := range outcomes {
		if o.Outcome == OutcomeFailed || o.Outcome == OutcomePaused {
			failed = append(failed, o.WebhookID)
		}
	}
	if len(failed) == 0 {
		return
	}
	outcome := OutcomePartial
	if len(failed) == len(outcomes) {
		outcome = OutcomeFailed
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, FailedWebhooksAttr.ValueSet(failed), OutcomeAttr.ValueSet(outcome)); err != nil {
		workflow.GetLogger(ctx).Warn("list failed webhooks", "error", err)
	}
}

// isNonRetryable reports whether err is an application error that says
// retrying cannot help.
func isNonRetryable(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.NonRetryable()
}

// outcome waits for a delivery and returns its outcome. An outcome that
// ends the delivery and that the activity could not write to the log is
// written here, retried until the database answers.
func outcome(ctx workflow.Context, webhookID string, f workflow.Future) WebhookOutcome {
	var res activities.DeliverResult
	err := f.Get(ctx, &res)
	if err == nil {
		recordOutcome(ctx, res.Unrecorded)
		return WebhookOutcome{WebhookID: webhookID, Outcome: res.Outcome, Attempts: res.Attempt, StatusCode: res.StatusCode, LatencyMs: res.LatencyMs, Error: res.Reason}
	}
	o := WebhookOutcome{WebhookID: webhookID, Outcome: OutcomeFailed, Error: err.Error()}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		o.Error = appErr.Message()
		if d, ok := activities.ReadFailureDetails(appErr); ok {
			o.Attempts, o.StatusCode, o.LatencyMs = d.Attempt, d.StatusCode, d.LatencyMs
			recordOutcome(ctx, d.Unrecorded)
		}
		if appErr.Type() == activities.ErrTypeGone {
			o.Outcome = OutcomePaused
		}
	}
	return o
}

// recordOutcome writes an attempt's outcome the delivery activity could
// not, if there is one. Only a database outage keeps it from the log, and
// the workflow outlasts any outage.
func recordOutcome(ctx workflow.Context, end *models.AttemptEnd) {
	if end == nil {
		return
	}
	var a *activities.Activities
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, durableLookupOptions), a.RecordOutcome, *end).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Error("record a delivery's outcome", "delivery_id", end.DeliveryID, "error", err)
	}
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
	// WorkspaceID owns the webhook; a recover started before inputs named
	// it reads it from the workflow's TidyWorkspace search attribute.
	WorkspaceID string `json:",omitempty"`
	WebhookID   string
	Since       time.Time
	Until       time.Time
	After       string `json:",omitempty"`
	Attempted   int    `json:",omitempty"`
	Delivered   int    `json:",omitempty"`
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
	if in.WorkspaceID == "" {
		in.WorkspaceID, _ = workflow.GetTypedSearchAttributes(ctx).GetKeyword(WorkspaceAttr)
	}
	for range RecoverPagesPerRun {
		var page activities.RecoverPageResult
		err := lookup(ctx, a.RecoverPage, activities.RecoverPageInput{
			WorkspaceID: in.WorkspaceID, WebhookID: in.WebhookID, Since: in.Since, Until: in.Until, After: in.After, Limit: RecoverPageSize,
		}, &page)
		if err != nil {
			return RecoverResult{}, err
		}
		if len(page.Items) == 0 {
			workflow.GetLogger(ctx).Info("recover done", "webhook_id", in.WebhookID, "attempted", in.Attempted, "delivered", in.Delivered)
			return RecoverResult{Attempted: in.Attempted, Delivered: in.Delivered}, nil
		}
		in.Delivered += recoverPage(ctx, in.WebhookID, page.Items)
		in.Attempted += len(page.Items)
		last := page.Items[len(page.Items)-1]
		in.After = last.DeliveryID
		if last.Cursor != "" {
			in.After = last.Cursor
		}
	}
	return RecoverResult{}, workflow.NewContinueAsNewError(ctx, Recover, in)
}

// recoverPage attempts a page of a recover once each and returns how many
// were delivered: all at once, but where the webhook takes conversations
// in order (the items name their conversation), one conversation's items
// one after the other, in the page's order.
func recoverPage(ctx workflow.Context, webhookID string, items []activities.RecoverItem) int {
	var a *activities.Activities
	attempt := func(ctx workflow.Context, item activities.RecoverItem) workflow.Future {
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, onceOptions), a.Deliver, activities.DeliverInput{
			EventID: item.EventID, WebhookID: webhookID, Trigger: models.TriggerRecover,
		})
	}
	delivered := 0
	var groups [][]activities.RecoverItem
	index := map[string]int{} // conversation → its group; read, never ranged over
	for _, item := range items {
		if item.ConversationID == "" {
			groups = append(groups, []activities.RecoverItem{item})
			continue
		}
		i, ok := index[item.ConversationID]
		if !ok {
			i = len(groups)
			index[item.ConversationID] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], item)
	}
	if len(groups) == len(items) {
		// Nothing to keep in order: every attempt at once.
		futures := make([]workflow.Future, len(items))
		for i, item := range items {
			futures[i] = attempt(ctx, item)
		}
		for _, f := range futures {
			if outcome(ctx, webhookID, f).Outcome == OutcomeDelivered {
				delivered++
			}
		}
		return delivered
	}
	wg := workflow.NewWaitGroup(ctx)
	for _, group := range groups {
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			for _, item := range group {
				if outcome(ctx, webhookID, attempt(ctx, item)).Outcome == OutcomeDelivered {
					delivered++
				}
			}
		})
	}
	wg.Wait(ctx)
	return delivered
}

// Queries an operator types into the Temporal UI's search (README), kept
// here with the search attributes they use.

// FailedDeliveriesQuery finds the event workflows that ended since since
// without delivering to the webhook: "every failed delivery to webhook X
// this week".
func FailedDeliveriesQuery(webhookID string, since time.Time) string {
	return fmt.Sprintf("TidyFailedWebhooks = %s AND CloseTime >= %s", quote(webhookID), quote(since.UTC().Format(time.RFC3339)))
}

// FailedEventsQuery finds a workspace's events that ended delivered to
// none of their webhooks since since.
func FailedEventsQuery(workspaceID string, since time.Time) string {
	return fmt.Sprintf("TidyWorkspace = %s AND TidyOutcome = %s AND CloseTime >= %s", quote(workspaceID), quote(OutcomeFailed), quote(since.UTC().Format(time.RFC3339)))
}

// RetryingQuery finds a workspace's event workflows still under way:
// deliveries being retried, or waiting for their next attempt.
func RetryingQuery(workspaceID string) string {
	return fmt.Sprintf("TidyWorkspace = %s AND ExecutionStatus = 'Running'", quote(workspaceID))
}

// EventQuery finds one event's workflow, and the children of an event
// with more than WebhooksPerWorkflow webhooks.
func EventQuery(workspaceID, eventID string) string {
	id := EventWorkflowID(workspaceID, eventID)
	return fmt.Sprintf("WorkflowId = %s OR WorkflowId STARTS_WITH %s", quote(id), quote(id+"."))
}

// quote makes s a string literal of Temporal's list filter. Ids are
// validated to hold no quotes; escaping keeps a bad one from changing the
// query anyway.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
