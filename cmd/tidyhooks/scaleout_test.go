package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/internal/testenv"
	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/store"
	"github.com/tidysupport/tidyhooks/temporalserver"
)

// Scale-out: two `tidyhooks api` and three `tidyhooks worker` processes on
// one Temporal server and one database. Events emitted through both APIs
// all arrive once; every worker took a share; a fourth worker added and
// one removed while events flow lose nothing.
func TestScaleOutAcrossProcesses(t *testing.T) {
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
	if _, err := st.CreateAPIKey(ctx, models.APIKey{WorkspaceID: "wrk_scale", Scopes: []string{models.ScopeAPIUser, models.ScopeEventsWrite}}, key, "test"); err != nil {
		t.Fatal(err)
	}
	common := []string{"TIDYHOOKS_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(testenv.EncryptionKey), "DATABASE_URL=" + dbURL,
		"TEMPORAL_ADDRESS=" + tsrv.HostPort(), "TIDYHOOKS_DB_MAX_CONNS=8"}
	var bases []string
	var apis []*process
	for range 2 {
		p := start(t, append(common, "TIDYHOOKS_HTTP_ADDR=127.0.0.1:0", "TIDYHOOKS_ALLOW_HTTP=true"), "api")
		bases = append(bases, "http://"+p.waitFor(t, `"msg":"api listening","addr":"([0-9.:]+)"`))
		apis = append(apis, p)
	}
	type workerProc struct {
		p       *process
		metrics string
	}
	startWorker := func() workerProc {
		w := start(t, append(common, "TIDYHOOKS_METRICS_ADDR=127.0.0.1:0", "TIDYHOOKS_ALLOW_LOOPBACK=true"), "worker")
		return workerProc{w, w.waitFor(t, `"msg":"worker running".*"metrics_addr":"([0-9.:]+)"`)}
	}
	workers := []workerProc{startWorker(), startWorker(), startWorker()}
	for _, b := range bases {
		waitReady(t, b+"/readyz")
	}

	var mu sync.Mutex
	got := map[string]int{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond) // an endpoint that takes a moment, so that work overlaps
		mu.Lock()
		got[r.Header.Get("webhook-id")]++
		mu.Unlock()
	}))
	defer rcv.Close()
	call := func(base, path, body string) (int, string) {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
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
	if code, body := call(bases[0], "/v1/webhooks", `{"url": "`+rcv.URL+`", "events": ["*"]}`); code != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", code, body)
	}

	const n = 90
	var added workerProc
	for i := range n {
		switch i {
		case 30:
			added = startWorker() // a worker joins under load
		case 60:
			workers[0].p.stop(t) // and one leaves: it finishes what it holds
		}
		body := fmt.Sprintf(`{"id": "evt_scale_%d", "event": "message.updated", "payload": {"i": %d}}`, i, i)
		if code, out := call(bases[i%2], "/v1/events", body); code != http.StatusAccepted {
			t.Fatalf("emit %d through api %d: %d %s", i, i%2, code, out)
		}
	}
	done := 0
	if !testenv.Eventually(2*time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		done = len(got)
		return done == n
	}) {
		t.Fatalf("%d of %d events delivered", done, n)
	}
	mu.Lock()
	for i := range n {
		if c := got[fmt.Sprintf("evt_scale_%d", i)]; c != 1 {
			t.Errorf("evt_scale_%d delivered %d times", i, c)
		}
	}
	mu.Unlock()
	// The workers still running each took a share.
	series := `tidyhooks_delivery_attempts_total{event="message.updated",outcome="delivered",status_class="2xx"}`
	for i, w := range append(workers[1:], added) {
		if got := sumMetric(t, []string{w.metrics}, series); got <= 0 {
			t.Errorf("worker %d delivered %v of the events: it took no share", i+1, got)
		}
	}
	for _, p := range apis {
		p.stop(t)
	}
	for _, w := range append(workers[1:], added) {
		w.p.stop(t)
	}
}
