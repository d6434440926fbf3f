package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/tidysupport/tidyhooks/activities"
)

// Sizes of an ordered delivery: how long it waits for the conversation's
// next event before it ends (the next event starts it again), and how many
// events one run delivers before it continues as new.
const (
	InOrderIdle   = time.Minute
	InOrderPerRun = 100
)

// DeliverInOrder delivers one conversation's events to one webhook in the
// order they were stored, each only once the one before it is delivered
// or given up: the same first attempt and retry schedule as DeliverEvent's,
// one event at a time. What is owed is read from the database, so an
// event whose own workflow queued it late still goes in its place; an
// event signalled after the search passed it (two emitted at once) goes
// next. It ends when the webhook stops taking the conversation in order,
// or after InOrderIdle without an event.
func DeliverInOrder(ctx workflow.Context, in activities.InOrderInput) error {
	var a *activities.Activities
	if in.Runs == 0 {
		if err := workflow.UpsertTypedSearchAttributes(ctx, WorkspaceAttr.ValueSet(in.WorkspaceID), WebhooksAttr.ValueSet([]string{in.WebhookID})); err != nil {
			return err
		}
	}
	signals := workflow.GetSignalChannel(ctx, activities.InOrderSignal)
	done := map[string]bool{} // delivered in this run
	receive := func(ev activities.InOrderEvent) {
		if ev.Seq <= in.AfterSeq && !done[ev.EventID] {
			in.Late = append(in.Late, ev)
		}
	}
	for delivered := 0; ; {
		var ev activities.InOrderEvent
		for signals.ReceiveAsync(&ev) {
			receive(ev)
		}
		if len(in.Late) > 0 {
			ev, in.Late = in.Late[0], in.Late[1:]
		} else {
			var next activities.NextInOrderResult
			if err := lookup(ctx, a.NextInOrder, in, &next); err != nil {
				return err
			}
			in.AfterSeq = max(in.AfterSeq, next.Cursor)
			if next.Done {
				return nil
			}
			if !next.Found {
				if !waitForEvent(ctx, signals, receive) {
					return nil
				}
				continue
			}
			ev = next.Event
		}
		res := deliverToWebhooks(ctx, ev.EventID, []string{in.WebhookID}, true)
		done[ev.EventID] = true
		if o := res.Webhooks[0]; o.Outcome != OutcomeDelivered {
			workflow.GetLogger(ctx).Warn("ordered event not delivered; the conversation goes on", "event_id", ev.EventID, "outcome", o.Outcome, "error", o.Error)
		}
		if delivered++; delivered >= InOrderPerRun {
			for signals.ReceiveAsync(&ev) {
				receive(ev)
			}
			in.Runs++
			return workflow.NewContinueAsNewError(ctx, DeliverInOrder, in)
		}
	}
}

// waitForEvent waits up to InOrderIdle for a signal, and reports whether
// one came. Before giving up it takes any signal that arrived meanwhile:
// a workflow that ends holding one would drop its wake-up.
func waitForEvent(ctx workflow.Context, signals workflow.ReceiveChannel, receive func(activities.InOrderEvent)) bool {
	timerCtx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	got := false
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(signals, func(c workflow.ReceiveChannel, _ bool) {
		var ev activities.InOrderEvent
		c.Receive(ctx, &ev)
		receive(ev)
		got = true
	})
	sel.AddFuture(workflow.NewTimer(timerCtx, InOrderIdle), func(workflow.Future) {})
	sel.Select(ctx)
	var ev activities.InOrderEvent
	for signals.ReceiveAsync(&ev) {
		receive(ev)
		got = true
	}
	return got
}
