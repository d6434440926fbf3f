package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/internal/testenv"
	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/store"
	"github.com/tidysupport/tidyhooks/temporalserver"
)

// TestAPIAndWorkersAsSeparateProcesses runs the production topology: one
// `tidyhooks api` and two `tidyhooks worker` processes against a Temporal
// server (with no search attributes registered yet, as a fresh cluster)
// and a real PostgreSQL, configured only by environment variables.
func TestAPIAndWorkersAsSeparateProcesses(t *testing.T) {
	ctx := context.Background()
	tsrv, err := temporalserver.Start(ctx, temporalserver.Config{UIPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tsrv.Stop() })
	dbURL := testenv.PostgresURL(t)
	st, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key, _ := store.NewKeyValue()
	if _, err := st.CreateAPIKey(ctx, models.APIKey{WorkspaceID: "wrk_prod", Scopes: []string{models.ScopeAPIUser, models.ScopeEventsWrite}}, key, "test"); err != nil {
		t.Fatal(err)
	}

	common := []string{"TIDYHOOKS_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(testenv.EncryptionKey), "DATABASE_URL=" + dbURL, "TEMPORAL_ADDRESS=" + tsrv.HostPort(), "TIDYHOOKS_RETRY_SCHEDULE=1s,1s,1s"}
	// Port 0: each process takes a port the system picks and logs it.
	apiProc := start(t, append(common, "TIDYHOOKS_HTTP_ADDR=127.0.0.1:0", "TIDYHOOKS_ALLOW_HTTP=true"), "api")
	apiAddr := apiProc.waitFor(t, `"msg":"api listening","addr":"([0-9.:]+)"`)
	var (
		workers      []*process
		metricsAddrs []string
	)
	for range 2 {
		w := start(t, append(common, "TIDYHOOKS_METRICS_ADDR=127.0.0.1:0", "TIDYHOOKS_ALLOW_LOOPBACK=true"), "worker")
		metrics := w.waitFor(t, `"msg":"worker running".*"metrics_addr":"([0-9.:]+)"`)
		metricsAddrs = append(metricsAddrs, metrics)
		if resp, err := http.Get("http://" + metrics + "/metrics"); err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("worker /metrics: %v %v", err, resp)
		} else {
			resp.Body.Close()
		}
		workers = append(workers, w)
	}
	base := "http://" + apiAddr
	waitReady(t, base+"/readyz")

	var mu sync.Mutex
	got := map[string]int{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get("webhook-id")]++
		mu.Unlock()
	}))
	defer rcv.Close()
	call := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := call("POST", "/v1/webhooks", `{"url": "`+rcv.URL+`", "events": ["*"]}`); code != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", code, body)
	}
	const n = 20
	for i := range n {
		if code, body := call("POST", "/v1/events", fmt.Sprintf(`{"id": "evt_prod_%d", "event": "message.updated", "payload": {"i": %d}}`, i, i)); code != http.StatusAccepted {
			t.Fatalf("emit %d: %d %s", i, code, body)
		}
	}
	done := 0
	if !testenv.Eventually(time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		done = len(got)
		return done == n
	}) {
		t.Fatalf("%d of %d events delivered", done, n)
	}
	for i := range n {
		if c := got[fmt.Sprintf("evt_prod_%d", i)]; c != 1 {
			t.Errorf("evt_prod_%d delivered %d times", i, c)
		}
	}
	// The workers' metrics count every attempt.
	if got := sumMetric(t, metricsAddrs, `tidyhooks_delivery_attempts_total{event="message.updated",outcome="delivered",status_class="2xx"}`); got != n {
		t.Errorf("workers' metrics count %v delivered attempts, want %d", got, n)
	}
	checkOperatorMetrics(t, base, call, metricsAddrs, n)

	apiProc.stop(t)
	for _, w := range workers {
		w.stop(t)
	}
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	var last string
	if !testenv.Eventually(time.Minute, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			last = err.Error()
			return false
		}
		resp.Body.Close()
		last = resp.Status
		return resp.StatusCode == http.StatusOK
	}) {
		t.Fatalf("%s not ready: %s", url, last)
	}
}

// checkOperatorMetrics makes a webhook answer 410 (paused), one fail every
// attempt, one ask for a retry in an hour, and two emits be refused; and
// reads the metrics an operator alerts on move, on the API and the workers,
// with the Temporal SDK's own beside them.
func checkOperatorMetrics(t *testing.T, base string, call func(method, path, body string) (int, string), workers []string, delivered int) {
	t.Helper()
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/gone":
			w.WriteHeader(http.StatusGone)
		case "/later":
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer rcv.Close()
	for _, w := range []struct{ path, event string }{{"/gone", "conversation.closed"}, {"/failing", "contact.created"}, {"/later", "signal.created"}} {
		if code, body := call("POST", "/v1/webhooks", `{"url": "`+rcv.URL+w.path+`", "events": ["`+w.event+`"]}`); code != http.StatusCreated {
			t.Fatalf("create webhook: %d %s", code, body)
		}
	}
	for i, event := range []string{"conversation.closed", "contact.created", "signal.created"} {
		if code, body := call("POST", "/v1/events", fmt.Sprintf(`{"id": "evt_ops_%d", "event": %q, "payload": {}}`, i, event)); code != http.StatusAccepted {
			t.Fatalf("emit %s: %d %s", event, code, body)
		}
	}
	if code, _ := call("POST", "/v1/events", `{"id": "evt_bad", "event": "no.such.event", "payload": {}}`); code != http.StatusUnprocessableEntity {
		t.Errorf("unknown event type: %d, want 422", code)
	}
	req, _ := http.NewRequest("POST", base+"/v1/events", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer not-a-key")
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("emit with a bad key: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}

	api := []string{strings.TrimPrefix(base, "http://")}
	want := []struct {
		from   []string
		series string
		value  float64 // the least value
	}{
		{workers, `tidyhooks_deliveries_total{outcome="delivered"}`, float64(delivered + 2)}, // and the "*" webhook's two
		{workers, `tidyhooks_deliveries_total{outcome="gone"}`, 1},
		{workers, `tidyhooks_deliveries_total{outcome="exhausted"}`, 1},
		{workers[:1], `tidyhooks_webhooks{status="PAUSED"}`, 1},
		{workers[:1], `tidyhooks_webhooks{status="ACTIVE"}`, 3},
		{workers[:1], `tidyhooks_deliveries_waiting_retry`, 1},
		{api, `tidyhooks_events_rejected_total{reason="invalid_field"}`, 1},
		{api, `tidyhooks_events_rejected_total{reason="unauthorized"}`, 1},
		{api, `tidyhooks_workflow_starts_in_flight`, 0},
		// The SDK's metrics: the API's requests to Temporal, the workers'
		// task latencies and slots.
		{api, `temporal_request{activity_type="none",client_name="temporal_go",namespace="default",operation="StartWorkflowExecution",task_queue="tidyhooks-deliveries",worker_type="none",workflow_type="DeliverEvent"}`, float64(delivered + 3)},
		{workers, `temporal_workflow_task_schedule_to_start_latency_seconds_count{activity_type="none",client_name="temporal_go",namespace="default",task_queue="tidyhooks-deliveries",worker_type="none",workflow_type="DeliverEvent"}`, 1},
		{workers[:1], `temporal_worker_task_slots_available{activity_type="none",client_name="temporal_go",namespace="default",task_queue="tidyhooks-deliveries",worker_type="LocalActivityWorker",workflow_type="none"}`, 1},
	}
	deadline := time.Now().Add(time.Minute)
	for _, w := range want {
		var got float64
		if !testenv.Eventually(time.Until(deadline), func() bool {
			got = sumMetric(t, w.from, w.series)
			return got >= w.value && (w.value > 0 || got == 0)
		}) {
			t.Errorf("%s = %v, want at least %v; series of that name:\n%s", w.series, got, w.value, seriesNamed(t, w.from, w.series))
		}
	}
	// Exactly: one paused, one waiting.
	for series, value := range map[string]float64{`tidyhooks_webhooks{status="PAUSED"}`: 1, `tidyhooks_deliveries_waiting_retry`: 1} {
		if got := sumMetric(t, workers[:1], series); got != value {
			t.Errorf("%s = %v, want %v", series, got, value)
		}
	}
}

// sumMetric reads one series (name and labels as the text format prints
// them) from the /metrics of each address and returns the sum; -1 when no
// address has it.
func sumMetric(t *testing.T, addrs []string, series string) float64 {
	t.Helper()
	rx := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	total, found := 0.0, false
	for _, addr := range addrs {
		if m := rx.FindSubmatch(scrape(t, addr)); m != nil {
			v, _ := strconv.ParseFloat(string(m[1]), 64)
			total, found = total+v, true
		}
	}
	if !found {
		return -1
	}
	return total
}

// seriesNamed lists the series of series's metric name at addrs.
func seriesNamed(t *testing.T, addrs []string, series string) string {
	t.Helper()
	name, _, _ := strings.Cut(series, "{")
	var out []string
	for _, addr := range addrs {
		for _, line := range strings.Split(string(scrape(t, addr)), "\n") {
			if strings.HasPrefix(line, name) {
				out = append(out, line)
			}
		}
	}
	return strings.Join(out, "\n")
}

// scrape reads the /metrics page at addr.
func scrape(t *testing.T, addr string) []byte {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
