package worker

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/tidysupport/tidyhooks/activities"
	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/workflows"
)

// UnfinishedStore records deliveries whose workflow ended without them,
// and finds the webhooks of an event whose workflow ended before it did.
type UnfinishedStore interface {
	FailUnfinished(ctx context.Context, a models.AttemptStart, emittedAt time.Time, reason string) (bool, error)
	MatchWebhooks(ctx context.Context, workspaceID string, e models.EventType, eventID string) ([]string, error)
	FailOwedInOrder(ctx context.Context, workspaceID, webhookID, conversationID, reason string) (int, error)
}

// How often and how far back the sweep for unfinished deliveries looks.
// Looking back a day at every pass means a sweep missed while every worker
// was down is made up by the next; recording is idempotent, so any number
// of workers may sweep at once.
const (
	SweepEvery    = time.Minute
	SweepLookback = 24 * time.Hour
)

// unfinishedQuery finds delivery workflows that closed without completing:
// terminated by an operator, timed out, failed by a bug, canceled.
const unfinishedQuery = `(WorkflowType = 'DeliverEvent' OR WorkflowType = 'DeliverToWebhooks') AND ExecutionStatus != 'Running' AND ExecutionStatus != 'Completed' AND ExecutionStatus != 'ContinuedAsNew' AND CloseTime > '%s'`

// SweepUnfinished records, once, every delivery whose workflow closed since
// `since` without delivering: the delivery log shows it failed with the
// reason (unless it was delivered or settled before), and the metric
// tidyhooks_unfinished_deliveries_total counts it. For an event whose
// workflow ended before it looked its webhooks up, the webhooks subscribed
// to the event at the sweep stand in. It returns how many deliveries it
// recorded.
func SweepUnfinished(ctx context.Context, c client.Client, namespace string, st UnfinishedStore, m *Metrics, since time.Time, logger *slog.Logger) (int, error) {
	recorded := 0
	dc := converter.GetDefaultDataConverter()
	var token []byte
	for {
		page, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, Query: fmt.Sprintf(unfinishedQuery, since.UTC().Format(time.RFC3339)), NextPageToken: token,
		})
		if err != nil {
			return recorded, fmt.Errorf("list unfinished delivery workflows: %w", err)
		}
		for _, wf := range page.Executions {
			status := strings.ToLower(strings.TrimPrefix(wf.Status.String(), "WORKFLOW_EXECUTION_STATUS_"))
			fields := wf.GetSearchAttributes().GetIndexedFields()
			var (
				workspace, event string
				webhooks         []string
			)
			_ = dc.FromPayload(fields[workflows.WorkspaceAttr.GetName()], &workspace)
			_ = dc.FromPayload(fields[workflows.EventAttr.GetName()], &event)
			_ = dc.FromPayload(fields[workflows.WebhooksAttr.GetName()], &webhooks)
			eventID, _, _ := strings.Cut(wf.Execution.WorkflowId, "@")
			reason := fmt.Sprintf("the delivery's workflow ended (%s) before it delivered", status)
			if wf.Type.GetName() == "DeliverEvent" && len(webhooks) == 0 {
				// An event whose groups of webhooks each have a workflow of
				// their own: the sweep finds those.
				if hasChildren(ctx, c, namespace, wf.Execution.WorkflowId) {
					continue
				}
				// Ended before it looked its webhooks up: recorded for the
				// webhooks subscribed to the event now that existed when
				// it started, the nearest to what it would have matched.
				typ, ok := models.LookupEvent(event)
				if !ok {
					logger.Error("delivery workflow ended before it knew its webhooks; its event is unknown", "workflow_id", wf.Execution.WorkflowId, "status", status)
					continue
				}
				ids, err := st.MatchWebhooks(ctx, workspace, typ, eventID)
				if err != nil {
					return recorded, err
				}
				webhooks = ids
				reason = fmt.Sprintf("the event's workflow ended (%s) before it looked up its webhooks; nothing was sent", status)
			}
			for _, id := range webhooks {
				changed, err := st.FailUnfinished(ctx, models.AttemptStart{
					WorkspaceID: workspace, WebhookID: id, EventID: eventID, EventType: event,
					StartedAt: wf.CloseTime.AsTime(), WorkflowID: wf.Execution.WorkflowId, RunID: wf.Execution.RunId,
				}, wf.StartTime.AsTime(), reason)
				if err != nil {
					return recorded, err
				}
				if changed {
					recorded++
					m.unfinished.WithLabelValues(status).Inc()
					logger.Warn("delivery recorded failed: its workflow ended", "workflow_id", wf.Execution.WorkflowId, "webhook_id", id, "status", status)
				}
			}
		}
		if token = page.NextPageToken; len(token) == 0 {
			break
		}
	}
	n, err := sweepInOrder(ctx, c, namespace, st, m, since, logger)
	return recorded + n, err
}

// unfinishedInOrderQuery finds ordered deliveries that closed without
// completing.
var unfinishedInOrderQuery = `WorkflowType = '` + activities.InOrderWorkflow + `' AND ExecutionStatus != 'Running' AND ExecutionStatus != 'Completed' AND ExecutionStatus != 'ContinuedAsNew' AND CloseTime > '%s'`

// sweepInOrder records, for every ordered delivery that closed since
// `since` without completing and has no run under way, what its
// conversation still owed its webhook as failed (for recover to find).
// The conversation is read from the run's input: its workflow id may hold
// it only as a hash.
func sweepInOrder(ctx context.Context, c client.Client, namespace string, st UnfinishedStore, m *Metrics, since time.Time, logger *slog.Logger) (int, error) {
	recorded := 0
	var token []byte
	for {
		page, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, Query: fmt.Sprintf(unfinishedInOrderQuery, since.UTC().Format(time.RFC3339)), NextPageToken: token,
		})
		if err != nil {
			return recorded, fmt.Errorf("list unfinished ordered deliveries: %w", err)
		}
		for _, wf := range page.Executions {
			id := wf.Execution.WorkflowId
			if desc, err := c.DescribeWorkflowExecution(ctx, id, ""); err == nil &&
				desc.WorkflowExecutionInfo.GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
				continue // a later run goes on with what is owed
			}
			in, err := inOrderInput(ctx, c, id, wf.Execution.RunId)
			if err != nil {
				return recorded, err
			}
			status := strings.ToLower(strings.TrimPrefix(wf.Status.String(), "WORKFLOW_EXECUTION_STATUS_"))
			n, err := st.FailOwedInOrder(ctx, in.WorkspaceID, in.WebhookID, in.ConversationID,
				fmt.Sprintf("the ordered delivery's workflow ended (%s) before it delivered", status))
			if err != nil {
				return recorded, err
			}
			if n > 0 {
				recorded += n
				m.unfinished.WithLabelValues(status).Add(float64(n))
				logger.Warn("ordered deliveries recorded failed: their workflow ended", "workflow_id", id, "webhook_id", in.WebhookID, "deliveries", n, "status", status)
			}
		}
		if token = page.NextPageToken; len(token) == 0 {
			return recorded, nil
		}
	}
}

// inOrderInput reads an ordered delivery run's input from its history.
func inOrderInput(ctx context.Context, c client.Client, workflowID, runID string) (activities.InOrderInput, error) {
	var in activities.InOrderInput
	iter := c.GetWorkflowHistory(ctx, workflowID, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if !iter.HasNext() {
		return in, fmt.Errorf("read the input of %s: no history", workflowID)
	}
	event, err := iter.Next()
	if err != nil {
		return in, fmt.Errorf("read the input of %s: %w", workflowID, err)
	}
	payloads := event.GetWorkflowExecutionStartedEventAttributes().GetInput()
	if err := converter.GetDefaultDataConverter().FromPayloads(payloads, &in); err != nil {
		return in, fmt.Errorf("read the input of %s: %w", workflowID, err)
	}
	return in, nil
}

// hasChildren reports whether an event's workflow started workflows for
// groups of its webhooks (which the sweep finds by themselves).
func hasChildren(ctx context.Context, c client.Client, namespace, workflowID string) bool {
	list, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: namespace, PageSize: 1,
		Query: fmt.Sprintf(`WorkflowType = 'DeliverToWebhooks' AND WorkflowId STARTS_WITH '%s.'`, workflowID),
	})
	return err == nil && len(list.Executions) > 0
}

// RunSweeper sweeps for unfinished deliveries every interval until ctx
// ends.
func RunSweeper(ctx context.Context, c client.Client, namespace string, st UnfinishedStore, m *Metrics, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := SweepUnfinished(ctx, c, namespace, st, m, time.Now().Add(-SweepLookback), logger); err != nil && ctx.Err() == nil {
			logger.Warn("sweep for unfinished deliveries", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
