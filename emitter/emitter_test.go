package emitter_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/tidysupport/tidyhooks/emitter"
	"github.com/tidysupport/tidyhooks/internal/testenv"
	"github.com/tidysupport/tidyhooks/internal/testtemporal"
	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/store"
	"github.com/tidysupport/tidyhooks/workflows"
)

// One embedded Temporal server for the package. No worker runs: the
// emitter's part ends when Temporal has accepted a workflow's start.
var temporalHostPort string

func TestMain(m *testing.M) {
	srv := testtemporal.Start()
	temporalHostPort = srv.HostPort()
	code := m.Run()
	_ = srv.Stop()
	os.Exit(code)
}

// queues numbers the task queues of this test binary, so that no test
// sees another's workflows.
var queues atomic.Int64

func newEmitter(t *testing.T, opts emitter.Options) (*emitter.Emitter, *store.Store, client.Client) {
	t.Helper()
	st, err := store.Open(context.Background(), testenv.SQLiteURL(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c, err := client.Dial(client.Options{HostPort: temporalHostPort})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	opts.TaskQueue = fmt.Sprintf("emitter-test-%d", queues.Add(1))
	return emitter.New(st, c, opts), st, c
}

func request(id string) models.EmitRequest {
	return models.EmitRequest{ID: id, Event: "conversation.created", WorkspaceID: "wrk_a", Payload: json.RawMessage(`{"conversation":{"id":"cnv_1"}}`)}
}

// Publish stores the event and starts its workflow under the event's
// workflow id, carrying the workspace and event type as search
// attributes; publishing it again is a success that starts nothing new.
func TestPublishStoresAndStartsOnce(t *testing.T) {
	em, st, c := newEmitter(t, emitter.Options{})
	ctx := context.Background()
	id, err := em.Emit(ctx, request("evt_once"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Event(ctx, "wrk_a", id); err != nil {
		t.Fatalf("event not stored: %v", err)
	}
	wid := workflows.EventWorkflowID("wrk_a", id)
	first, err := c.DescribeWorkflowExecution(ctx, wid, "")
	if err != nil {
		t.Fatalf("workflow %s not started: %v", wid, err)
	}
	attrs := first.WorkflowExecutionInfo.SearchAttributes.GetIndexedFields()
	if attrs[workflows.WorkspaceAttr.GetName()] == nil || attrs[workflows.EventAttr.GetName()] == nil {
		t.Errorf("search attributes %v lack the workspace or the event type", attrs)
	}
	if _, err := em.Emit(ctx, request("evt_once")); err != nil {
		t.Fatalf("publishing again: %v", err)
	}
	again, err := c.DescribeWorkflowExecution(ctx, wid, "")
	if err != nil {
		t.Fatal(err)
	}
	if again.WorkflowExecutionInfo.Execution.RunId != first.WorkflowExecutionInfo.Execution.RunId {
		t.Error("publishing again started a second run")
	}
}

// With MaxConcurrentStarts, no more starts are under way at once than the
// bound (read from the tidyhooks_workflow_starts_in_flight gauge), and
// every event is started.
func TestStartsInFlightAreBounded(t *testing.T) {
	em, _, c := newEmitter(t, emitter.Options{MaxConcurrentStarts: 2})
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	reg.MustRegister(em.Collector())
	inFlight := func() int64 {
		mfs, err := reg.Gather()
		if err != nil || len(mfs) != 1 || len(mfs[0].GetMetric()) != 1 {
			t.Errorf("gather: %v %v", mfs, err)
			return 0
		}
		return int64(mfs[0].GetMetric()[0].GetGauge().GetValue())
	}
	var (
		peak    atomic.Int64
		stop    = make(chan struct{})
		sampled sync.WaitGroup
	)
	sampled.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if v := inFlight(); v > peak.Load() {
				peak.Store(v)
			}
		}
	})
	var events []models.Event
	for i := range 40 {
		ev, err := em.Prepare(request(fmt.Sprintf("evt_bound_%02d", i)), "")
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
	}
	err := em.Publish(ctx, events)
	close(stop)
	sampled.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if p := peak.Load(); p > 2 || p < 1 {
		t.Errorf("starts in flight peaked at %d, want 1 or 2 (the bound)", p)
	}
	for _, ev := range events {
		if _, err := c.DescribeWorkflowExecution(ctx, workflows.EventWorkflowID("wrk_a", ev.ID), ""); err != nil {
			t.Errorf("%s not started: %v", ev.ID, err)
		}
	}
}

// A Temporal that does not answer is "unavailable", within the caller's
// deadline; the event is stored, so that publishing it again once
// Temporal is back starts it.
func TestPublishWithoutTemporalIsUnavailable(t *testing.T) {
	st, err := store.Open(context.Background(), testenv.SQLiteURL(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	em := emitter.New(st, c, emitter.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	began := time.Now()
	_, err = em.Emit(ctx, request("evt_nobody"))
	if !errors.Is(err, models.ErrUnavailable) {
		t.Fatalf("err = %v, want unavailable", err)
	}
	if waited := time.Since(began); waited > emitter.StartTimeout {
		t.Errorf("answered after %s, want within the start timeout", waited)
	}
	if _, err := st.Event(context.Background(), "wrk_a", "evt_nobody"); err != nil {
		t.Errorf("event not kept for a retry: %v", err)
	}
}
