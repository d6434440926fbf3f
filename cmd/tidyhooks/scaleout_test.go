package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/internal/testenv"
	"github.com/tidysupport/tidyhooks/temporalserver"
)

// Scale-out: two `tidyhooks api` and three `tidyhooks worker` processes on
// one Temporal server and one database. Events emitted through both APIs
// all arrive once; every worker took a share; a fourth worker added and
// one removed while events flow lose nothing.
func TestScaleOutAcrossProcesses(t *testing.T) {
	tsrv, err := temporalserver.Start(context.Background(), temporalserver.Config{UIPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tsrv.Stop() })
	tp := newTopology(t, testenv.PostgresURL(t), tsrv.HostPort(), "TIDYHOOKS_DB_MAX_CONNS=8")
	second, secondBase := tp.startAPI()
	bases := []string{tp.base, secondBase}
	workers := []*process{tp.startWorker(), tp.startWorker(), tp.startWorker()}

	var mu sync.Mutex
	got := map[string]int{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond) // an endpoint that takes a moment, so that work overlaps
		mu.Lock()
		got[r.Header.Get("webhook-id")]++
		mu.Unlock()
	}))
	defer rcv.Close()
	tp.webhooks(1, rcv.URL)

	const n = 90
	for i := range n {
		switch i {
		case 30:
			workers = append(workers, tp.startWorker()) // a worker joins under load
		case 60:
			workers[0].stop(t) // and one leaves: it finishes what it holds
		}
		body := fmt.Sprintf(`{"id": "evt_scale_%d", "event": "message.updated", "payload": {"i": %d}}`, i, i)
		if a := callAPI(bases[i%2], tp.key, "POST", "/v1/events", body); a.code != http.StatusAccepted {
			t.Fatalf("emit %d through api %d: %d %s %v", i, i%2, a.code, a.body, a.err)
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
	for i, w := range workers[1:] {
		if got := sumMetric(t, []string{w.metricsAddr}, series); got <= 0 {
			t.Errorf("worker %d delivered %v of the events: it took no share", i+2, got)
		}
	}
	tp.api.stop(t)
	second.stop(t)
	for _, w := range workers[1:] {
		w.stop(t)
	}
}
