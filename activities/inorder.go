package activities

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// Ordered delivery: a webhook with ordering "conversation" gets each
// conversation's events from one DeliverInOrder workflow per (webhook,
// conversation), one event at a time in the order they were stored. The
// event's own DeliverEvent workflow matches it and wakes that workflow
// (QueueInOrder, signal-with-start); the ordered workflow finds what it is
// owed in the database (NextInOrder), so that an event whose DeliverEvent
// runs late still goes in its place.
const (
	// InOrderWorkflow is the ordered delivery workflow's type.
	InOrderWorkflow = "DeliverInOrder"
	// InOrderSignal wakes it with an InOrderEvent.
	InOrderSignal = "event"
)

// InOrderInput is DeliverInOrder's input: the webhook and conversation,
// and how far the conversation has been delivered: events stored after
// AfterSeq are still to come. Late carries, across continue-as-new, the
// events signalled after the search had passed them.
type InOrderInput struct {
	WorkspaceID    string
	WebhookID      string
	ConversationID string
	AfterSeq       int64
	Late           []InOrderEvent `json:",omitempty"`
	Runs           int            `json:",omitempty"`
}

// InOrderEvent names an event queued for ordered delivery.
type InOrderEvent struct {
	EventID string
	Seq     int64
}

// InOrderWorkflowID is the id of a webhook's ordered delivery of one
// conversation's events.
func InOrderWorkflowID(webhookID, conversationID string) string {
	return "order@" + webhookID + "@" + conversationID
}

// Signaler starts or wakes a workflow: a Temporal client.
type Signaler interface {
	SignalWithStartWorkflow(ctx context.Context, workflowID string, signalName string, signalArg any,
		options client.StartWorkflowOptions, workflow any, workflowArgs ...any) (client.WorkflowRun, error)
}

// QueueInput names an event to deliver in order to some of the webhooks it
// matched.
type QueueInput struct {
	WorkspaceID    string
	ConversationID string
	Event          InOrderEvent
	WebhookIDs     []string
}

// QueueInOrder wakes each webhook's ordered delivery of the event's
// conversation, starting it if none runs. Waking one twice is harmless.
func (a *Activities) QueueInOrder(ctx context.Context, in QueueInput) error {
	if a.cfg.Signaler == nil {
		return temporal.NewNonRetryableApplicationError("this worker cannot start ordered deliveries (no Temporal client)", "NoSignaler", nil)
	}
	taskQueue := activity.GetInfo(ctx).TaskQueue
	for _, webhookID := range in.WebhookIDs {
		id := InOrderWorkflowID(webhookID, in.ConversationID)
		_, err := a.cfg.Signaler.SignalWithStartWorkflow(ctx, id, InOrderSignal, in.Event, client.StartWorkflowOptions{
			ID: id, TaskQueue: taskQueue, Priority: temporal.Priority{FairnessKey: in.WorkspaceID},
		}, InOrderWorkflow, InOrderInput{
			WorkspaceID: in.WorkspaceID, WebhookID: webhookID, ConversationID: in.ConversationID, AfterSeq: in.Event.Seq - 1,
		})
		if err != nil {
			return fmt.Errorf("wake the ordered delivery %s: %w", id, err)
		}
	}
	return nil
}

// NextInOrderResult is what NextInOrder found: the next event owed
// (Found), or none yet; Done when the webhook no longer takes the
// conversation in order; Cursor how far the search got.
type NextInOrderResult struct {
	Event  InOrderEvent
	Found  bool
	Done   bool
	Cursor int64
}

// NextInOrder finds the next event of the conversation the webhook is
// owed, stored after in.AfterSeq.
func (a *Activities) NextInOrder(ctx context.Context, in InOrderInput) (NextInOrderResult, error) {
	ev, found, done, cursor, err := a.store.NextInOrder(ctx, in.WorkspaceID, in.WebhookID, in.ConversationID, in.AfterSeq)
	if err != nil {
		return NextInOrderResult{}, err
	}
	return NextInOrderResult{Event: InOrderEvent{EventID: ev.EventID, Seq: ev.Seq}, Found: found, Done: done, Cursor: cursor}, nil
}
