package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"time"

	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/tidysupport/tidyhooks/bench"
	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/store"
)

// startProductionTarget starts the production topology for one phase: a
// Temporal server in its own process (`dev --temporal-only`) on fresh
// PostgreSQL databases with four history shards, then either one
// `tidyhooks api` and f.workers `tidyhooks worker` processes, or, for the
// floor, a `bench-floor` process that starts the bare workflow without
// running a worker and f.workers `bench-floor --work` processes that run it.
func startProductionTarget(ctx context.Context, f benchFlags, stderr io.Writer, floor bool) (t *benchTarget, err error) {
	t = &benchTarget{}
	defer func() {
		if err != nil {
			t.stop()
		}
	}()
	dir, err := os.MkdirTemp("", "tidyhooks-bench")
	if err != nil {
		return nil, err
	}
	t.cleanup = append(t.cleanup, func() { _ = os.RemoveAll(dir) })
	app, temporalDB, drop, err := benchDatabases(ctx, f.postgres)
	if err != nil {
		return nil, err
	}
	t.cleanup = append(t.cleanup, drop)
	tport, err := benchPort(8)
	if err != nil {
		return nil, err
	}
	httpPort, err := benchPort(1)
	if err != nil {
		return nil, err
	}
	t.temporal = "127.0.0.1:" + strconv.Itoa(tport)
	t.base = "http://127.0.0.1:" + strconv.Itoa(httpPort)
	base := append(os.Environ(), "TIDYHOOKS_LOG_LEVEL=warn")
	uport, err := benchPort(1)
	if err != nil {
		return nil, err
	}
	if _, err := t.startProc(ctx, "temporal", append(base, "TIDYHOOKS_TEMPORAL_DATABASE_URL="+temporalDB, "TIDYHOOKS_TEMPORAL_SHARDS=4"),
		stderr, regexp.MustCompile(`Temporal server is running`),
		"dev", "--temporal-only", "--temporal-port", strconv.Itoa(tport), "--ui-port", strconv.Itoa(uport), "--data-dir", dir); err != nil {
		return nil, err
	}
	if floor {
		env := append(base, "TEMPORAL_ADDRESS="+t.temporal)
		for range f.workers {
			if _, err := t.startProc(ctx, "worker", env, stderr, regexp.MustCompile(`"msg":"floor worker running"`), "bench-floor", "--work"); err != nil {
				return nil, err
			}
		}
		if _, err := t.startProc(ctx, "api", env, stderr, regexp.MustCompile(`"msg":"floor starter listening"`),
			"bench-floor", "--http-addr", "127.0.0.1:"+strconv.Itoa(httpPort)); err != nil {
			return nil, err
		}
		fmt.Fprintf(stderr, "bench: production floor up at %s (%d workers)\n", t.base, f.workers)
		return t, nil
	}

	key := make([]byte, store.KeySize)
	_, _ = rand.Read(key)
	st, err := store.Open(ctx, app, store.Options{})
	if err != nil {
		return nil, err
	}
	t.key = "tsk_bench_" + randomHex(12)
	_, err = st.CreateAPIKey(ctx, models.APIKey{WorkspaceID: "wrk_bench", Scopes: []string{models.ScopeAPIUser, models.ScopeEventsWrite}}, t.key, "bench")
	st.Close()
	if err != nil {
		return nil, err
	}
	env := append(base, "DATABASE_URL="+app, "TEMPORAL_ADDRESS="+t.temporal, "TIDYHOOKS_ENCRYPTION_KEY="+base64.StdEncoding.EncodeToString(key),
		"TIDYHOOKS_ALLOW_HTTP=true", "TIDYHOOKS_ALLOW_LOOPBACK=true", "TIDYHOOKS_RATE_LIMIT=1000000",
		"TIDYHOOKS_RETRY_SCHEDULE=5s,5m,30m,2h,5h,10h,14h,20h,24h")
	// Their logs are at warn: each is ready when its /readyz says so.
	for range f.workers {
		mport, err := benchPort(1)
		if err != nil {
			return nil, err
		}
		metrics := "127.0.0.1:" + strconv.Itoa(mport)
		if _, err := t.startProc(ctx, "worker", append(env, "TIDYHOOKS_METRICS_ADDR="+metrics), stderr, nil, "worker"); err != nil {
			return nil, err
		}
		if err := waitHTTP(ctx, "http://"+metrics+"/readyz"); err != nil {
			return nil, err
		}
	}
	if _, err := t.startProc(ctx, "api", append(env, "TIDYHOOKS_HTTP_ADDR=127.0.0.1:"+strconv.Itoa(httpPort)), stderr, nil, "api"); err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, t.base+"/readyz"); err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "bench: production stack up at %s (%d workers)\n", t.base, f.workers)
	return t, nil
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

const benchFloorHelp = `usage: tidyhooks bench-floor (--http-addr ADDR | --work)

The bare-Temporal floor of the production topology, for tidyhooks bench:
with --http-addr, a process that starts the floor workflow for each POST
/floor/events and runs no worker (as tidyhooks api); with --work, a process
that runs it (as tidyhooks worker). TEMPORAL_ADDRESS names the server.
`

// runBenchFloor is `tidyhooks bench-floor`.
func runBenchFloor(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench-floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), benchFloorHelp); fs.PrintDefaults() }
	addr := fs.String("http-addr", "", "serve POST /floor/events here, starting workflows without a worker")
	work := fs.Bool("work", false, "run the floor worker")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	if (*addr == "") == !*work || fs.NArg() > 0 {
		return errors.New("bench-floor: give exactly one of --http-addr and --work")
	}
	hostPort := getenv("TEMPORAL_ADDRESS")
	if hostPort == "" {
		return errors.New("bench-floor: TEMPORAL_ADDRESS is required")
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: hostPort, Logger: silentLogger()})
	if err != nil {
		return fmt.Errorf("bench-floor: connect to temporal at %s: %w", hostPort, err)
	}
	defer c.Close()
	if *work {
		w := bench.NewFloorWorker(c)
		if err := w.Start(); err != nil {
			return fmt.Errorf("bench-floor: start worker: %w", err)
		}
		defer w.Stop()
		fmt.Fprintln(stdout, `{"msg":"floor worker running"}`)
		<-ctx.Done()
		return nil
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("bench-floor: listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /floor/events", bench.FloorHandler(c, 0))
	fmt.Fprintln(stdout, `{"msg":"floor starter listening"}`)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return serveHTTP(ctx, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, l, 10*time.Second)
	})
	return g.Wait()
}
