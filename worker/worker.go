// Package worker runs the Temporal worker that executes the delivery
// workflows (DeliverEvent, TestWebhook, Redeliver, Recover) and their
// activities, registers the search attributes they set, and prunes the
// delivery log past its retention. It imports workflows and activities;
// never api or store.
package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/tidysupport/tidyhooks/activities"
	"github.com/tidysupport/tidyhooks/workflows"
)

// Options size a worker.
type Options struct {
	// MaxConcurrentActivities bounds deliveries in flight, as activities
	// and, apart, as first attempts made in local activities; 0 means 200.
	MaxConcurrentActivities int
	// MaxConcurrentWorkflowTasks bounds workflow tasks in flight; 0 means 64.
	MaxConcurrentWorkflowTasks int
	// TaskQueue to poll; "" means workflows.TaskQueue.
	TaskQueue string
	// StopTimeout is how long Stop lets deliveries in flight finish; 0
	// means 30s, enough for any attempt.
	StopTimeout time.Duration
}

// New returns a worker on the task queue with the workflow and acts
// registered. Start it with Start or Run.
func New(c client.Client, acts *activities.Activities, opts Options) worker.Worker {
	if opts.MaxConcurrentActivities <= 0 {
		opts.MaxConcurrentActivities = 200
	}
	if opts.MaxConcurrentWorkflowTasks <= 0 {
		opts.MaxConcurrentWorkflowTasks = 64
	}
	if opts.TaskQueue == "" {
		opts.TaskQueue = workflows.TaskQueue
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = workflows.AttemptTimeout
	}
	w := worker.New(c, opts.TaskQueue, worker.Options{
		WorkerStopTimeout:                  opts.StopTimeout,
		MaxConcurrentActivityExecutionSize: opts.MaxConcurrentActivities,
		// First attempts run as local activities: as many at once as
		// deliveries, since each mostly waits on its endpoint.
		MaxConcurrentLocalActivityExecutionSize: opts.MaxConcurrentActivities,
		MaxConcurrentWorkflowTaskExecutionSize:  opts.MaxConcurrentWorkflowTasks,
		// The SDK scales its pollers on the server's hints. With one
		// write partition per task queue it delivered 1.3-1.6x as fast as
		// four fixed pollers, with a third of the p99, as fast as
		// accepted (BENCHMARKS.md, "What moved the production topology").
		WorkflowTaskPollerBehavior: PollerBehavior(),
		ActivityTaskPollerBehavior: PollerBehavior(),
	})
	RegisterWorkflows(w)
	w.RegisterActivity(acts)
	return w
}

// PollerBehavior is how every worker of ours polls, the benchmark's floor
// included: Temporal's poller autoscaling with its defaults (5 pollers to
// start, 1 to 100).
func PollerBehavior() worker.PollerBehavior {
	return worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{})
}

// RegisterWorkflows registers every workflow under the name its histories
// carry: on a worker, and on the replayer that checks recorded histories
// still replay.
func RegisterWorkflows(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(workflows.DeliverEvent, workflow.RegisterOptions{Name: "DeliverEvent"})
	r.RegisterWorkflowWithOptions(workflows.DeliverToWebhooks, workflow.RegisterOptions{Name: "DeliverToWebhooks"})
	r.RegisterWorkflowWithOptions(workflows.TestWebhook, workflow.RegisterOptions{Name: "TestWebhook"})
	r.RegisterWorkflowWithOptions(workflows.Redeliver, workflow.RegisterOptions{Name: "Redeliver"})
	r.RegisterWorkflowWithOptions(workflows.Recover, workflow.RegisterOptions{Name: "Recover"})
	r.RegisterWorkflowWithOptions(workflows.DeliverInOrder, workflow.RegisterOptions{Name: activities.InOrderWorkflow})
}

// SearchAttributes are the custom search attributes DeliverEvent sets.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		workflows.WorkspaceAttr.GetName():      enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		workflows.EventAttr.GetName():          enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		workflows.WebhooksAttr.GetName():       enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST,
		workflows.FailedWebhooksAttr.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST,
		workflows.OutcomeAttr.GetName():        enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	}
}

// EnsureSearchAttributes registers SearchAttributes on namespace if they are
// missing, as on a fresh Temporal cluster.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	ops := c.OperatorService()
	have, err := ops.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range SearchAttributes() {
		if _, ok := have.CustomAttributes[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = ops.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: namespace, SearchAttributes: missing})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("add search attributes: %w", err)
	}
	return nil
}
