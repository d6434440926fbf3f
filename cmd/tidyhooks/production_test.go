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
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		done := len(got)
		mu.Unlock()
		if done == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events delivered", done, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := range n {
		if c := got[fmt.Sprintf("evt_prod_%d", i)]; c != 1 {
			t.Errorf("evt_prod_%d delivered %d times", i, c)
		}
	}
	// The workers' metrics count every attempt.
	total := 0.0
	rx := regexp.MustCompile(`(?m)^tidyhooks_delivery_attempts_total\{event="message.updated",outcome="delivered",status_class="2xx"\} (\S+)$`)
	for _, addr := range metricsAddrs {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m := rx.FindSubmatch(b); m != nil {
			v, _ := strconv.ParseFloat(string(m[1]), 64)
			total += v
		}
	}
	if total != n {
		t.Errorf("workers' metrics count %v delivered attempts, want %d", total, n)
	}

	apiProc.stop(t)
	for _, w := range workers {
		w.stop(t)
	}
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready: %v %v", url, err, resp)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
