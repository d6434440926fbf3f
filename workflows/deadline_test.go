package workflows_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/tidysupport/tidyhooks/activities"
	"github.com/tidysupport/tidyhooks/models"
)

// attemptUnder runs one Deliver attempt with a start-to-close timeout of
// its own, as the delivery workflows run theirs with AttemptTimeout.
func attemptUnder(ctx workflow.Context, timeout time.Duration, in activities.DeliverInput) error {
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	return workflow.ExecuteActivity(ctx, a.Deliver, in).Get(ctx, nil)
}

// An attempt whose work (a slow token fetch, a 401, a second fetch and a
// POST that hangs) would outlast its activity's timeout is cut short
// inside it, so that its outcome is written: logged failed, not left
// sending for the next attempt to call unknown and send again.
func TestAttemptWorkEndsInsideItsTimeout(t *testing.T) {
	h := newHarness(t, activities.Config{Timeout: 20 * time.Second, Retry: models.RetryPolicy{Schedule: []time.Duration{time.Second}}})
	var fetches atomic.Int32
	token := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		time.Sleep(1500 * time.Millisecond) // a slow token endpoint
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token": "tok", "token_type": "Bearer", "expires_in": 3600}`))
	}))
	t.Cleanup(token.Close)
	// The receiver answers the first POST 401, which sends the attempt
	// for a new token, and holds the second until its client gives up.
	var posts atomic.Int32
	cut := make(chan time.Duration, 1)
	r := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// Read first: the server notices the client leave only then.
		_, _ = io.Copy(io.Discard, req.Body)
		if posts.Add(1) == 1 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		began := time.Now()
		<-req.Context().Done()
		select {
		case cut <- time.Since(began):
		default:
		}
	}))
	t.Cleanup(r.Close)
	w, err := models.NewWebhook{URL: r.URL, Events: []string{"*"}, Auth: &models.EndpointAuth{
		Type: models.AuthOAuth2, TokenURL: token.URL, ClientID: "c", ClientSecret: "s",
	}}.Validate("wrk_a", models.URLPolicy{AllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if w, err = h.store.CreateWebhook(context.Background(), w, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0); err != nil {
		t.Fatal(err)
	}
	typ, _ := models.LookupEvent("conversation.created")
	ev := models.Event{ID: "evt_slow", WorkspaceID: "wrk_a", Type: typ, OccurredAt: time.Now(), ReceivedAt: time.Now(), Payload: []byte(`{"x":1}`)}
	if err := h.store.SaveEvents(context.Background(), []models.Event{ev}); err != nil {
		t.Fatal(err)
	}
	const timeout = activities.RecordTimeout + 5*time.Second // the work's budget: 5 s
	h.env.RegisterWorkflow(attemptUnder)
	h.env.SetTestTimeout(time.Minute)
	began := time.Now()
	h.env.ExecuteWorkflow(attemptUnder, timeout, activities.DeliverInput{EventID: ev.ID, WebhookID: w.ID})
	took := time.Since(began)
	if !h.env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if fetches.Load() < 2 || posts.Load() < 2 {
		t.Fatalf("%d token fetches and %d POSTs: the attempt did not reach its second POST", fetches.Load(), posts.Load())
	}
	select {
	case held := <-cut:
		if held > timeout-activities.RecordTimeout {
			t.Errorf("the hanging POST was held %s, past the attempt's budget of %s", held, timeout-activities.RecordTimeout)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the hanging POST never ended")
	}
	if took >= timeout {
		t.Errorf("the attempt took %s, reaching its activity's timeout of %s", took, timeout)
	}
	page, err := h.store.Deliveries(context.Background(), "wrk_a", w.ID, models.DeliveryFilter{}, "", 10)
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("deliveries %v, %v", page.Items, err)
	}
	d, err := h.store.Delivery(context.Background(), "wrk_a", page.Items[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Attempts) != 1 || d.Attempts[0].Outcome != models.AttemptFailed || d.Attempts[0].FinishedAt == nil ||
		!strings.Contains(d.Attempts[0].Error, "ran out of time") {
		t.Fatalf("attempts %+v: want one, failed for running out of time, and finished", d.Attempts)
	}
}
