package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/store"
)

// startProductionTarget starts the production topology for one phase: a
// Temporal server in its own process (`tidyhooks dev --temporal-only`) on
// fresh PostgreSQL databases with four history shards (or
// TIDYHOOKS_TEMPORAL_SHARDS), then either one
// `tidyhooks api` and f.workers `tidyhooks worker` processes, or, for the
// floor, a `tidyhooks-bench floor --http-addr` process that starts the bare
// workflow without running a worker and f.workers `tidyhooks-bench floor
// --work` processes that run it.
func startProductionTarget(ctx context.Context, f benchFlags, getenv func(string) string, stderr io.Writer, floor bool) (_ *benchTarget, err error) {
	t, dir, err := newBenchTarget()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			t.stop() // what started, and the cleanups so far
		}
	}()
	httpPort, tport, uport := t.ports.http, t.ports.temporal, t.ports.ui
	app, temporalDB, err := t.databases(ctx, f)
	if err != nil {
		return nil, err
	}
	base := append(os.Environ(), "TIDYHOOKS_LOG_LEVEL=warn")
	temporalEnv := append(base, "TIDYHOOKS_TEMPORAL_DATABASE_URL="+temporalDB)
	if getenv("TIDYHOOKS_TEMPORAL_SHARDS") == "" {
		temporalEnv = append(temporalEnv, "TIDYHOOKS_TEMPORAL_SHARDS=4")
	}
	if _, err := t.startProc(ctx, "temporal", f.tidyhooks, temporalEnv,
		stderr, regexp.MustCompile(`Temporal server is running`),
		"dev", "--temporal-only", "--temporal-port", strconv.Itoa(tport), "--ui-port", strconv.Itoa(uport), "--data-dir", dir); err != nil {
		return nil, err
	}
	if floor {
		err = t.startProductionFloor(ctx, f, append(base, "TEMPORAL_ADDRESS="+t.temporal), stderr, httpPort)
	} else {
		err = t.startProductionProcesses(ctx, f, base, app, stderr, httpPort)
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// startProductionFloor starts f.workers floor workers and the floor's
// starter on httpPort, as the production topology's api and workers.
func (t *benchTarget) startProductionFloor(ctx context.Context, f benchFlags, env []string, stderr io.Writer, httpPort int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for range f.workers {
		if _, err := t.startProc(ctx, "worker", self, env, stderr, regexp.MustCompile(`"msg":"floor running"`), "floor", "--work"); err != nil {
			return err
		}
	}
	if _, err := t.startProc(ctx, "api", self, env, stderr, regexp.MustCompile(`"msg":"floor running"`),
		"floor", "--http-addr", "127.0.0.1:"+strconv.Itoa(httpPort)); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bench: production floor up at %s (%d workers)\n", t.base, f.workers)
	return nil
}

// startProductionProcesses starts f.workers `tidyhooks worker` processes
// and one `tidyhooks api` on httpPort, on the database at app with an API
// key of its own, and waits until each is ready.
func (t *benchTarget) startProductionProcesses(ctx context.Context, f benchFlags, base []string, app string, stderr io.Writer, httpPort int) error {
	key := make([]byte, store.KeySize)
	_, _ = rand.Read(key)
	st, err := store.Open(ctx, app, store.Options{})
	if err != nil {
		return err
	}
	t.key = "tsk_bench_" + randomHex(12)
	_, err = st.CreateAPIKey(ctx, models.APIKey{WorkspaceID: "wrk_bench", Scopes: []string{models.ScopeAPIUser, models.ScopeEventsWrite}}, t.key, "bench")
	st.Close()
	if err != nil {
		return err
	}
	env := append(base, "DATABASE_URL="+app, "TEMPORAL_ADDRESS="+t.temporal, "TIDYHOOKS_ENCRYPTION_KEY="+base64.StdEncoding.EncodeToString(key),
		"TIDYHOOKS_ALLOW_HTTP=true", "TIDYHOOKS_ALLOW_LOOPBACK=true", "TIDYHOOKS_RATE_LIMIT=1000000",
		"TIDYHOOKS_RETRY_SCHEDULE=5s,5m,30m,2h,5h,10h,14h,20h,24h")
	// Their logs are at warn: each is ready when its /readyz says so.
	for range f.workers {
		mport, err := benchPort(1)
		if err != nil {
			return err
		}
		metrics := "127.0.0.1:" + strconv.Itoa(mport)
		if _, err := t.startProc(ctx, "worker", f.tidyhooks, append(env, "TIDYHOOKS_METRICS_ADDR="+metrics), stderr, nil, "worker"); err != nil {
			return err
		}
		if err := waitHTTP(ctx, "http://"+metrics+"/readyz"); err != nil {
			return err
		}
	}
	if _, err := t.startProc(ctx, "api", f.tidyhooks, append(env, "TIDYHOOKS_HTTP_ADDR=127.0.0.1:"+strconv.Itoa(httpPort)), stderr, nil, "api"); err != nil {
		return err
	}
	if err := waitHTTP(ctx, t.base+"/readyz"); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bench: production stack up at %s (%d workers)\n", t.base, f.workers)
	return nil
}

// waitHTTP waits up to three minutes for url to answer 200.
func waitHTTP(ctx context.Context, url string) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: %s not ready within 3 minutes", url)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond): // polling interval
		}
	}
}
