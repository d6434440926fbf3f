package integration_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/tidysupport/tidyhooks/internal/testenv"
	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/workflows"
)

// The Temporal UI queries the README gives operators find what they say,
// run through the Temporal client as the UI runs them.
func TestOperatorQueries(t *testing.T) {
	s := newStack(t, stackOptions{})
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/gone":
			w.WriteHeader(http.StatusGone)
		case "/later":
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(rcv.Close)
	// Workspaces of their own: the Temporal server is shared by every test.
	wsA, wsB := fmt.Sprintf("wrk_qa%d", time.Now().UnixNano()), fmt.Sprintf("wrk_qb%d", time.Now().UnixNano())
	keyA := s.newKey(wsA, models.ScopeAPIUser, models.ScopeEventsWrite)
	keyB := s.newKey(wsB, models.ScopeAPIUser, models.ScopeEventsWrite)
	gone, _ := s.webhook(keyA, rcv.URL+"/gone", "contact.created")
	s.webhook(keyA, rcv.URL+"/later", "message.created")
	s.webhook(keyB, rcv.URL+"/later", "message.created")

	since := time.Now().Add(-7 * 24 * time.Hour)
	failed := s.emit(keyA, `{"id": "evt_q_failed", "event": "contact.created", "payload": {}}`)
	s.waitIn(wsA, failed)
	retrying := s.emit(keyA, `{"id": "evt_q_retrying", "event": "message.created", "payload": {}}`)
	other := s.emit(keyB, `{"id": "evt_q_other", "event": "message.created", "payload": {}}`)
	t.Cleanup(func() {
		for ws, id := range map[string]string{wsA: retrying, wsB: other} {
			_ = s.client.TerminateWorkflow(context.Background(), workflows.EventWorkflowID(ws, id), "", "test over")
		}
	})

	find := func(query string) []string {
		list, err := s.client.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: query})
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		var ids []string
		for _, e := range list.Executions {
			ids = append(ids, e.Execution.WorkflowId)
		}
		slices.Sort(ids)
		return ids
	}
	tests := []struct {
		name, query string
		want        []string
	}{
		{"failed deliveries to a webhook this week", workflows.FailedDeliveriesQuery(gone, since), []string{workflows.EventWorkflowID(wsA, failed)}},
		{"failed deliveries to a webhook since now", workflows.FailedDeliveriesQuery(gone, time.Now().Add(time.Hour)), nil},
		{"a workspace's deliveries still retrying", workflows.RetryingQuery(wsA), []string{workflows.EventWorkflowID(wsA, retrying)}},
		{"another workspace's", workflows.RetryingQuery(wsB), []string{workflows.EventWorkflowID(wsB, other)}},
		{"this event", workflows.EventQuery(wsA, failed), []string{workflows.EventWorkflowID(wsA, failed)}},
		{"a workspace's events that failed everywhere", workflows.FailedEventsQuery(wsA, since), []string{workflows.EventWorkflowID(wsA, failed)}},
		{"an id with a quote finds nothing", workflows.RetryingQuery(wsA + "' OR TidyWorkspace = '" + wsB), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			if !testenv.Eventually(30*time.Second, func() bool { got = find(tt.query); return slices.Equal(got, tt.want) }) {
				t.Errorf("%s\n got %v\nwant %v", tt.query, got, tt.want)
			}
		})
	}
}
