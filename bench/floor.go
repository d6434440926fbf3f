package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/tidysupport/tidyhooks/models"
	tidyworker "github.com/tidysupport/tidyhooks/worker"
)

// FloorTaskQueue is where the floor workflow runs, beside the service's.
const FloorTaskQueue = "tidyhooks-bench-floor"

// FloorInput is everything the bare workflow needs: no database at all.
type FloorInput struct {
	ID   string
	URL  string
	Body []byte
	// Local POSTs from a local activity inside the workflow task: the
	// second floor, the limit of a workflow per event on Temporal.
	Local bool `json:",omitempty"`
}

// FloorWorkflow is the floor: one activity (or local activity) that POSTs
// the body.
func FloorWorkflow(ctx workflow.Context, in FloorInput) error {
	if in.Local {
		ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			StartToCloseTimeout: 30 * time.Second,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second},
		})
		return workflow.ExecuteLocalActivity(ctx, FloorPost, in).Get(ctx, nil)
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second},
	})
	return workflow.ExecuteActivity(ctx, FloorPost, in).Get(ctx, nil)
}

var floorClient = &http.Client{Timeout: 15 * time.Second}

// FloorPost sends the body once; a non-2xx is retried.
func FloorPost(ctx context.Context, in FloorInput) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.URL, bytes.NewReader(in.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", in.ID)
	req.Header.Set("X-TidySupport-Webhook-Id", "floor")
	resp, err := floorClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("endpoint answered %d", resp.StatusCode)
	}
	return nil
}

// NewFloorWorker returns a worker for the floor on c, sized and polling
// like the service's.
func NewFloorWorker(c client.Client) worker.Worker {
	w := worker.New(c, FloorTaskQueue, worker.Options{
		MaxConcurrentActivityExecutionSize:      200,
		MaxConcurrentWorkflowTaskExecutionSize:  64,
		MaxConcurrentLocalActivityExecutionSize: 64,
		WorkflowTaskPollerBehavior:              tidyworker.PollerBehavior(),
		ActivityTaskPollerBehavior:              tidyworker.PollerBehavior(),
	})
	w.RegisterWorkflow(FloorWorkflow)
	w.RegisterActivity(FloorPost)
	return w
}

// floorRequest is what the floor's ingest accepts: the same shape as the
// service's, plus the URL to post to (there is no webhook table).
type floorRequest struct {
	models.EmitRequest
	URL string `json:"url"`
}

// FloorHandler accepts an event over HTTP and starts the floor workflow
// the way the service starts its own: eagerly, with the event id as the
// workflow id, at most maxStarts at once (0: no bound), answering 202 once
// Temporal accepted it. With ?local=1 the workflow POSTs from a local
// activity.
func FloorHandler(c client.Client, maxStarts int) http.Handler {
	var starts chan struct{}
	if maxStarts > 0 {
		starts = make(chan struct{}, maxStarts)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req floorRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		now := time.Now()
		ev, err := models.NewEvent(req.EmitRequest, "wrk_bench", models.EmitLimits{}, func() string { return models.NewID("evt", now) }, now)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		}
		if starts != nil {
			select {
			case starts <- struct{}{}:
				defer func() { <-starts }()
			case <-r.Context().Done():
				return
			}
		}
		_, err = c.ExecuteWorkflow(r.Context(), client.StartWorkflowOptions{
			ID:                                       ev.ID,
			TaskQueue:                                FloorTaskQueue,
			EnableEagerStart:                         true,
			WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
			WorkflowExecutionErrorWhenAlreadyStarted: true,
		}, FloorWorkflow, FloorInput{ID: ev.ID, URL: req.URL, Body: ev.Body(), Local: r.URL.Query().Get("local") == "1"})
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if err != nil && !errors.As(err, &started) {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"id":` + strconv.Quote(ev.ID) + `}`))
	})
}
