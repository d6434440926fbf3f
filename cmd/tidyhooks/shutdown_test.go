package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/internal/testenv"
	"github.com/tidysupport/tidyhooks/temporalserver"
)

// TestSIGTERMDrainsAWorker: a worker told to stop while its attempts are
// under way (each endpoint takes two seconds to answer) stops polling,
// lets them finish and record their outcome, and exits 0; another worker
// delivers the rest. Nothing accepted is lost, and no attempt is left
// "sending" in the log.
func TestSIGTERMDrainsAWorker(t *testing.T) {
	ctx := context.Background()
	tsrv, err := temporalserver.Start(ctx, temporalserver.Config{UIPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tsrv.Stop() })
	dbURL := testenv.PostgresURL(t)
	tp := newTopology(t, dbURL, tsrv.HostPort())

	var inFlight, started atomic.Int64
	got := newPairs()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		inFlight.Add(1)
		defer inFlight.Add(-1)
		time.Sleep(2 * time.Second) // the endpoint's own slowness
		got.handler().ServeHTTP(w, r)
	}))
	t.Cleanup(slow.Close)
	hooks := tp.webhooks(2, slow.URL)
	draining := tp.startWorker()

	const n = 20
	var events []string
	for i := range n {
		id := fmt.Sprintf("evt_drain_%d", i)
		if a := callAPI(tp.base, tp.key, "POST", "/v1/events", fmt.Sprintf(`{"id": %q, "event": "message.created", "payload": {}}`, id)); a.code != http.StatusAccepted {
			t.Fatalf("emit %s: %d %s", id, a.code, a.body)
		}
		events = append(events, id)
	}
	if !testenv.Eventually(30*time.Second, func() bool { return inFlight.Load() >= 5 }) {
		t.Fatalf("only %d requests under way", inFlight.Load())
	}
	underWay := inFlight.Load()
	stopped := time.Now()
	if err := draining.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-draining.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("the worker did not exit within 45s of SIGTERM (shutdown timeout 30s)")
	}
	took := time.Since(stopped)
	if took < time.Second {
		t.Errorf("the worker exited %s after SIGTERM, before the attempts under way (2s each) could finish", took)
	}
	t.Logf("SIGTERM with %d requests under way: exited 0 after %s; %d requests so far", underWay, took.Round(10*time.Millisecond), started.Load())

	tp.startWorker()
	dups := waitAll(t, got, events, hooks, 2*time.Minute)
	t.Logf("all %d pairs arrived; %d duplicates", n*len(hooks), dups)
	if dups != 0 {
		t.Errorf("%d pairs arrived twice: attempts under way at SIGTERM were not let finish", dups)
	}

	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sending int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM delivery_attempts WHERE outcome = 'sending'").Scan(&sending); err != nil || sending != 0 {
		t.Errorf("attempts left sending in the log: %d (%v)", sending, err)
	}
}
