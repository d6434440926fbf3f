package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/tidysupport/tidyhooks/activities"
	"github.com/tidysupport/tidyhooks/models"
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
// next. It ends after InOrderIdle without an event, or when the webhook
// stops taking the conversation in order: deleted; paused, with what it
// owed logged skipped (NextInOrder); its ordering switched off, once it
// has delivered what it owed without waiting between them.
//
// Runs started before ledgerVersion list the webhook in
// TidyFailedWebhooks when an event fails and end as soon as ordering is
// switched off (NextInOrder then hands them what they owe one at a time).
func DeliverInOrder(ctx workflow.Context, in activities.InOrderInput) error {
	var a *activities.Activities
	version := workflow.GetVersion(ctx, ledgerChange, workflow.DefaultVersion, ledgerVersion)
	if version >= ledgerVersion {
		in.Unordering = true
	}
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
	// A workflow that ends holding a signal would drop its wake-up: before
	// ending it takes those that came, and goes on if there were any.
	signalled := func() bool {
		got := false
		var ev activities.InOrderEvent
		for signals.ReceiveAsync(&ev) {
			receive(ev)
			got = true
		}
		return got
	}
	deliver := func(ev activities.InOrderEvent) {
		res := deliverToWebhooks(ctx, ev.EventID, []string{in.WebhookID}, true, version < ledgerVersion)
		done[ev.EventID] = true
		if o := res.Webhooks[0]; o.Outcome != OutcomeDelivered {
			workflow.GetLogger(ctx).Warn("ordered event not delivered; the conversation goes on", "event_id", ev.EventID, "outcome", o.Outcome, "error", o.Error)
		}
	}
	for delivered := 0; ; {
		var ev activities.InOrderEvent
		signalled()
		if len(in.Late) > 0 {
			ev, in.Late = in.Late[0], in.Late[1:]
		} else {
			var next activities.NextInOrderResult
			if err := lookup(ctx, a.NextInOrder, in, &next); err != nil {
				return err
			}
			in.AfterSeq = max(in.AfterSeq, next.Cursor)
			if next.Done {
				if version < ledgerVersion {
					return nil
				}
				if next.End != models.InOrderUnordered || len(next.Owed) == 0 {
					if !signalled() {
						return nil
					}
					continue
				}
				deliverUnordered(ctx, in.WebhookID, next.Owed)
				if delivered += len(next.Owed); delivered >= InOrderPerRun {
					signalled()
					in.Runs++
					return workflow.NewContinueAsNewError(ctx, DeliverInOrder, in)
				}
				continue
			}
			if !next.Found {
				if !waitForEvent(ctx, signals, receive) {
					return nil
				}
				continue
			}
			ev = next.Event
		}
		deliver(ev)
		if delivered++; delivered >= InOrderPerRun {
			signalled()
			in.Runs++
			return workflow.NewContinueAsNewError(ctx, DeliverInOrder, in)
		}
	}
}

// ledgerChange marks, with workflow.GetVersion, the change that made
// ordered delivery keep its ledger: a run from before it ends as it
// would have. Its marker costs one event per run of an ordered delivery,
// not per event.
const (
	ledgerChange  = "ordered-ledger"
	ledgerVersion = 1
)

// deliverUnordered delivers events to a webhook whose ordering was
// switched off, all at once, each with its retries.
func deliverUnordered(ctx workflow.Context, webhookID string, events []activities.InOrderEvent) {
	futures := make([]workflow.Future, len(events))
	for i, ev := range events {
		future, settable := workflow.NewFuture(ctx)
		workflow.Go(ctx, func(ctx workflow.Context) {
			settable.Set(deliverToWebhooks(ctx, ev.EventID, []string{webhookID}, true, false), nil)
		})
		futures[i] = future
	}
	for _, f := range futures {
		_ = f.Get(ctx, nil)
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
