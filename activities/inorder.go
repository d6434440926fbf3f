package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/tidysupport/tidyhooks/models"
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
// AfterSeq are still to come (negative: search from what the webhook is
// owed). Late carries, across continue-as-new, the
// events signalled after the search had passed them.
type InOrderInput struct {
	WorkspaceID    string
	WebhookID      string
	ConversationID string
	AfterSeq       int64
	Late           []InOrderEvent `json:",omitempty"`
	Runs           int            `json:",omitempty"`
	// Unordering is set by an ordered delivery that delivers what it owes
	// unordered once its webhook's ordering is switched off; one started
	// before it could lacks it.
	Unordering bool `json:",omitempty"`
}

// InOrderEvent names an event queued for ordered delivery.
type InOrderEvent struct {
	EventID string
	Seq     int64
}

// InOrderWorkflowID is the id of a webhook's ordered delivery of one
// conversation's events: "order@<webhook>@<conversation>". A workflow id
// travels in a gRPC header, so a conversation id that is not plain
// printable ASCII has its other bytes (and "%") percent-encoded, and one
// too long for an id stands as "sha256:<hex>"; the workflow's input keeps
// the conversation id itself.
func InOrderWorkflowID(webhookID, conversationID string) string {
	return "order@" + webhookID + "@" + encodeConversation(conversationID)
}

// maxConversationInID is the longest encoded conversation id a workflow
// id holds; Temporal's limit on an id is 1,000 bytes.
const maxConversationInID = 200

const upperHex = "0123456789ABCDEF"

// encodeConversation is deterministic, as workflow code must be (no fmt:
// workflowcheck cannot see through it).
func encodeConversation(id string) string {
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c > ' ' && c < 0x7f && c != '%' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&0xf])
	}
	if b.Len() > maxConversationInID {
		sum := sha256.Sum256([]byte(id))
		// "%s" never comes out of the escaping above (a % is always
		// %25): no conversation id encodes to another's hash.
		return "%sha256:" + hex.EncodeToString(sum[:])
	}
	return b.String()
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

// QueueInOrder logs the event as owed to each webhook (a pending
// delivery: store.OweInOrder) and wakes the webhook's ordered delivery of
// the event's conversation, starting it if none runs. Doing either twice
// is harmless. An error retrying cannot cure (Temporal refusing the
// request) is non-retryable: the event's workflow then delivers to those
// webhooks unordered rather than not at all.
func (a *Activities) QueueInOrder(ctx context.Context, in QueueInput) error {
	if a.cfg.Signaler == nil {
		return temporal.NewNonRetryableApplicationError("this worker cannot start ordered deliveries (no Temporal client)", "NoSignaler", nil)
	}
	info := activity.GetInfo(ctx)
	if err := a.store.OweInOrder(ctx, in.WorkspaceID, in.Event.EventID, info.WorkflowExecution.ID, in.WebhookIDs); err != nil {
		return err
	}
	for _, webhookID := range in.WebhookIDs {
		id := InOrderWorkflowID(webhookID, in.ConversationID)
		_, err := a.cfg.Signaler.SignalWithStartWorkflow(ctx, id, InOrderSignal, in.Event, client.StartWorkflowOptions{
			ID: id, TaskQueue: info.TaskQueue, Priority: temporal.Priority{FairnessKey: in.WorkspaceID},
		}, InOrderWorkflow, InOrderInput{
			// A negative AfterSeq has the search start from what the
			// webhook is owed (store.NextInOrder), not from this event:
			// an event emitted before it may not have been queued yet.
			WorkspaceID: in.WorkspaceID, WebhookID: webhookID, ConversationID: in.ConversationID, AfterSeq: -1,
		})
		var invalid *serviceerror.InvalidArgument
		if errors.As(err, &invalid) {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("wake the ordered delivery %s: %v", id, err), ErrTypeCannotQueue, err)
		}
		if err != nil {
			return fmt.Errorf("wake the ordered delivery %s: %w", id, err)
		}
	}
	return nil
}

// ErrTypeCannotQueue is QueueInOrder's error when Temporal refuses to
// start or wake an ordered delivery.
const ErrTypeCannotQueue = "CannotQueueInOrder"

// NextInOrderResult is what NextInOrder found: the next event owed
// (Found), or none yet; Done when the webhook no longer takes the
// conversation in order, End saying why and Owed, when its ordering was
// switched off, the events queued to it still to deliver; Cursor how far
// the search got.
type NextInOrderResult struct {
	Event  InOrderEvent
	Found  bool
	Done   bool
	End    models.InOrderEnd `json:",omitempty"`
	Owed   []InOrderEvent    `json:",omitempty"`
	Cursor int64
}

// NextInOrder finds the next event of the conversation the webhook is
// owed, stored after in.AfterSeq (store.NextInOrder). An ordered delivery
// that cannot deliver unordered (in.Unordering false: one started before
// it could) is handed what it owes one event at a time instead.
func (a *Activities) NextInOrder(ctx context.Context, in InOrderInput) (NextInOrderResult, error) {
	next, err := a.store.NextInOrder(ctx, in.WorkspaceID, in.WebhookID, in.ConversationID, activity.GetInfo(ctx).WorkflowExecution.ID, in.AfterSeq, in.Unordering)
	if err != nil {
		return NextInOrderResult{}, err
	}
	res := NextInOrderResult{
		Event: InOrderEvent{EventID: next.Event.EventID, Seq: next.Event.Seq}, Found: next.Found,
		Done: next.End != models.InOrderGoing, End: next.End, Cursor: next.Cursor,
	}
	for _, ev := range next.Owed {
		res.Owed = append(res.Owed, InOrderEvent{EventID: ev.EventID, Seq: ev.Seq})
	}
	return res, nil
}
