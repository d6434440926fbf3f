// Package emitter accepts support events from the platform: it validates
// them, stores them and starts one DeliverEvent workflow per event, whose id
// is the event id and its workspace (workflows.EventWorkflowID). The HTTP
// ingest API uses it, and a platform service in Go can use it directly to
// emit without HTTP. It also starts the workflows a
// customer asks for: a test of a webhook, a manual retry, a recover. It
// imports workflows and models; never api or store.
package emitter

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/errgroup"

	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/workflows"
)

// Store keeps accepted events; an id already stored is left as it was.
type Store interface {
	SaveEvents(ctx context.Context, events []models.Event) error
}

// Options configure an Emitter.
type Options struct {
	// MaxPayloadBytes limits a payload; 0 means models.DefaultMaxPayloadBytes.
	MaxPayloadBytes int
	// EagerStart hands new workflows straight to a worker of the same client
	// in this process, skipping a round trip through the task queue.
	EagerStart bool
	// TaskQueue to start workflows on; "" means workflows.TaskQueue.
	TaskQueue string
	// MaxConcurrentStarts bounds workflow starts in flight from this
	// process; further emissions wait their turn (backpressure). With eager
	// start it keeps new workflows within what the local worker takes at
	// once, instead of letting a burst overflow into the task queue, where
	// every workflow costs more. 0 means no bound.
	MaxConcurrentStarts int
}

// MaxBatch is the most events one batch may carry.
const MaxBatch = 100

// Emitter validates, stores and starts events.
type Emitter struct {
	store  Store
	client client.Client
	opts   Options
	now    func() time.Time
	starts chan struct{} // semaphore of MaxConcurrentStarts; nil when unbounded
	// inFlight counts workflow starts under way, for the
	// tidyhooks_workflow_starts_in_flight gauge.
	inFlight atomic.Int64
}

// Collector is the tidyhooks_workflow_starts_in_flight gauge: workflow
// starts under way from this process, against MaxConcurrentStarts.
func (e *Emitter) Collector() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tidyhooks_workflow_starts_in_flight",
		Help: "Workflow starts under way from this process (bounded by TIDYHOOKS_MAX_CONCURRENT_STARTS when set); near the bound for long means Temporal is slow to accept.",
	}, func() float64 { return float64(e.inFlight.Load()) })
}

// New returns an Emitter.
func New(store Store, c client.Client, opts Options) *Emitter {
	if opts.TaskQueue == "" {
		opts.TaskQueue = workflows.TaskQueue
	}
	e := &Emitter{store: store, client: c, opts: opts, now: time.Now}
	if opts.MaxConcurrentStarts > 0 {
		e.starts = make(chan struct{}, opts.MaxConcurrentStarts)
	}
	return e
}

// Prepare validates one request from a key bound to keyWorkspace ("" for a
// platform key) and returns the event to publish. It has no side effects.
func (e *Emitter) Prepare(r models.EmitRequest, keyWorkspace string) (models.Event, error) {
	now := e.now()
	return models.NewEvent(r, keyWorkspace, models.EmitLimits{MaxPayloadBytes: e.opts.MaxPayloadBytes},
		func() string { return models.NewID("evt", now) }, now)
}

// PrepareBatch validates every request; the first bad one fails the whole
// batch, with its index in the error's field.
func (e *Emitter) PrepareBatch(rs []models.EmitRequest, keyWorkspace string) ([]models.Event, error) {
	if len(rs) == 0 {
		return nil, models.Invalid("events", "must hold at least one event")
	}
	if len(rs) > MaxBatch {
		return nil, models.Invalid("events", "holds %d events; at most %d are allowed", len(rs), MaxBatch)
	}
	events := make([]models.Event, len(rs))
	seen := make(map[string]bool, len(rs))
	for i, r := range rs {
		ev, err := e.Prepare(r, keyWorkspace)
		var ve *models.ValidationError
		var tl *models.TooLargeError
		switch {
		case errors.As(err, &ve):
			return nil, models.Invalid(fmt.Sprintf("events[%d].%s", i, ve.Field), "%s", ve.Message)
		case errors.As(err, &tl):
			return nil, &models.TooLargeError{Field: fmt.Sprintf("events[%d].%s", i, tl.Field), Limit: tl.Limit}
		case err != nil:
			return nil, err
		}
		if seen[ev.ID] {
			return nil, models.Invalid(fmt.Sprintf("events[%d].id", i), "repeats id %s of an earlier event in the batch", ev.ID)
		}
		seen[ev.ID] = true
		events[i] = ev
	}
	return events, nil
}

// Publish stores the events and starts their workflows. It returns once
// Temporal has accepted every start: the events are then durable. An event
// already published is accepted again as a success and delivered once.
func (e *Emitter) Publish(ctx context.Context, events []models.Event) error {
	if err := e.store.SaveEvents(ctx, events); err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, ev := range events {
		g.Go(func() error { return e.start(ctx, ev) })
	}
	return g.Wait()
}

// Emit validates and publishes one event from the platform (bound to no
// workspace, so r must name one) and returns its id.
func (e *Emitter) Emit(ctx context.Context, r models.EmitRequest) (string, error) {
	ev, err := e.Prepare(r, "")
	if err != nil {
		return "", err
	}
	if err := e.Publish(ctx, []models.Event{ev}); err != nil {
		return "", err
	}
	return ev.ID, nil
}

// StartTimeout bounds one workflow start, so that an emitter facing an
// unreachable Temporal answers "unavailable" instead of waiting.
const StartTimeout = 10 * time.Second

func (e *Emitter) start(ctx context.Context, ev models.Event) error {
	if e.starts != nil {
		select {
		case e.starts <- struct{}{}:
			defer func() { <-e.starts }()
		case <-ctx.Done():
			return fmt.Errorf("start delivery of %s: %w", ev.ID, ctx.Err())
		}
	}
	e.inFlight.Add(1)
	defer e.inFlight.Add(-1)
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	opts := client.StartWorkflowOptions{
		ID:                       workflows.EventWorkflowID(ev.WorkspaceID, ev.ID),
		TaskQueue:                e.opts.TaskQueue,
		Priority:                 workflows.Fairness(ev.WorkspaceID),
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		EnableEagerStart:         e.opts.EagerStart,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.WorkspaceAttr.ValueSet(ev.WorkspaceID),
			workflows.EventAttr.ValueSet(ev.Type.Wire),
		),
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}
	_, err := e.client.ExecuteWorkflow(ctx, opts, workflows.DeliverEvent, workflows.DeliverEventInput{
		EventID: ev.ID, WorkspaceID: ev.WorkspaceID, EventType: ev.Type.Name, FirstAttemptLocal: true,
	})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil // the id is the idempotency key: this event is already on its way
	}
	if err != nil {
		return fmt.Errorf("start delivery of %s: %w: %w", ev.ID, models.ErrUnavailable, err)
	}
	return nil
}

// TestTimeout bounds how long Test waits for the attempt.
const TestTimeout = 45 * time.Second

// TestResult is a test delivery: the event sent, the run of its
// TestWebhook workflow and the attempt's outcome.
type TestResult struct {
	Event      models.Event
	WorkflowID string
	RunID      string
	Outcome    workflows.WebhookOutcome
}

// Test sends a testing.connection event to one webhook of workspaceID now,
// once, and waits for the attempt's outcome. The caller has checked that
// the webhook belongs to the workspace.
//
// typ is models.TestingConnection for a test of the connection, or another
// event type to send its catalog example: an example is signed and logged
// like any test, and reaches only this webhook.
func (e *Emitter) Test(ctx context.Context, workspaceID, webhookID string, typ models.EventType) (TestResult, error) {
	now := e.now()
	payload := fmt.Appendf(nil, `{"webhookId":%q,"workspaceId":%q,"message":"This is a test event sent from TidySupport Webhooks."}`, webhookID, workspaceID)
	if typ != models.TestingConnection {
		payload = models.Describe(typ).Example
	}
	ev := models.Event{
		ID:          models.NewID("evt", now),
		WorkspaceID: workspaceID,
		Type:        typ,
		OccurredAt:  now.UTC().Truncate(time.Millisecond),
		ReceivedAt:  now.UTC(),
		Payload:     payload,
	}
	if err := e.store.SaveEvents(ctx, []models.Event{ev}); err != nil {
		return TestResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, TestTimeout)
	defer cancel()
	run, err := e.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:               workflows.EventWorkflowID(workspaceID, ev.ID),
		TaskQueue:        e.opts.TaskQueue,
		Priority:         workflows.Fairness(workspaceID),
		EnableEagerStart: e.opts.EagerStart,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.WorkspaceAttr.ValueSet(workspaceID),
			workflows.EventAttr.ValueSet(ev.Type.Wire),
			workflows.WebhooksAttr.ValueSet([]string{webhookID}),
		),
	}, workflows.TestWebhook, workflows.TestWebhookInput{EventID: ev.ID, WebhookID: webhookID})
	if err != nil {
		return TestResult{}, fmt.Errorf("start test of %s: %w: %w", webhookID, models.ErrUnavailable, err)
	}
	res := TestResult{Event: ev, WorkflowID: run.GetID(), RunID: run.GetRunID()}
	if err := run.Get(ctx, &res.Outcome); err != nil {
		return TestResult{}, fmt.Errorf("test of %s: %w: %w", webhookID, models.ErrUnavailable, err)
	}
	return res, nil
}

// RetryResult is a manual retry: its Redeliver workflow and the attempt's
// outcome.
type RetryResult struct {
	WorkflowID string
	RunID      string
	Outcome    workflows.WebhookOutcome
}

// Retry attempts a delivery again now, once, and waits for the outcome.
// The caller has checked that the delivery belongs to the workspace.
func (e *Emitter) Retry(ctx context.Context, d models.Delivery) (RetryResult, error) {
	ctx, cancel := context.WithTimeout(ctx, TestTimeout)
	defer cancel()
	run, err := e.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:               models.NewID("retry", e.now()),
		TaskQueue:        e.opts.TaskQueue,
		Priority:         workflows.Fairness(d.WorkspaceID),
		EnableEagerStart: e.opts.EagerStart,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.WorkspaceAttr.ValueSet(d.WorkspaceID),
			workflows.EventAttr.ValueSet(d.EventType),
			workflows.WebhooksAttr.ValueSet([]string{d.WebhookID}),
		),
	}, workflows.Redeliver, workflows.RedeliverInput{EventID: d.EventID, WebhookID: d.WebhookID})
	if err != nil {
		return RetryResult{}, fmt.Errorf("start retry of %s: %w: %w", d.ID, models.ErrUnavailable, err)
	}
	res := RetryResult{WorkflowID: run.GetID(), RunID: run.GetRunID()}
	if err := run.Get(ctx, &res.Outcome); err != nil {
		return RetryResult{}, fmt.Errorf("retry of %s: %w: %w", d.ID, models.ErrUnavailable, err)
	}
	return res, nil
}

// ErrRecovering is returned by Recover while a recover of the same webhook
// is still running: two at once would send the same deliveries twice.
var ErrRecovering = fmt.Errorf("%w: a recover of this webhook is still running", models.ErrConflict)

// Recover starts redelivering a webhook's failed and skipped deliveries
// created in [since, until) and returns the Recover workflow's id and run
// without waiting for it. One recover of a webhook runs at a time: its
// workflow id is the webhook's.
func (e *Emitter) Recover(ctx context.Context, workspaceID, webhookID string, since, until time.Time) (workflowID, runID string, err error) {
	run, err := e.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       "recover-" + webhookID,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TaskQueue:                                e.opts.TaskQueue,
		Priority:                                 workflows.Fairness(workspaceID),
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.WorkspaceAttr.ValueSet(workspaceID),
			workflows.WebhooksAttr.ValueSet([]string{webhookID}),
		),
	}, workflows.Recover, workflows.RecoverInput{WorkspaceID: workspaceID, WebhookID: webhookID, Since: since.UTC(), Until: until.UTC()})
	var running *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &running) {
		return "", "", fmt.Errorf("recover %s: %w", webhookID, ErrRecovering)
	}
	if err != nil {
		return "", "", fmt.Errorf("start recover of %s: %w: %w", webhookID, models.ErrUnavailable, err)
	}
	return run.GetID(), run.GetRunID(), nil
}
