package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"golang.org/x/sync/errgroup"

	"github.com/tidysupport/tidyhooks/activities"
	"github.com/tidysupport/tidyhooks/api"
	"github.com/tidysupport/tidyhooks/emitter"
	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/netguard"
	"github.com/tidysupport/tidyhooks/store"
	"github.com/tidysupport/tidyhooks/worker"
	"github.com/tidysupport/tidyhooks/workflows"
)

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func activitiesConfig(cfg Config, m *worker.Metrics) activities.Config {
	return activities.Config{
		Observer:    m,
		PauseAfter:  cfg.AutoPauseAfter,
		Retry:       models.RetryPolicy{Schedule: cfg.RetrySchedule, RetryAfterCap: cfg.RetryAfterMax},
		Timeout:     cfg.DeliveryTimeout,
		Network:     netguard.Policy{AllowLoopback: cfg.AllowLoopback, Allow: cfg.AllowedCIDRs},
		UserAgent:   "TidySupport-Webhooks/" + version,
		MaxInFlight: cfg.WebhookMaxInFlight,
	}
}

// apiConfig is the API's configuration. It is ready once Temporal answers
// and accepts queries on the search attributes workflow starts set: on a
// fresh cluster that is some seconds after they are registered, when the
// namespace cache has caught up.
func apiConfig(cfg Config, c client.Client) api.Config {
	var usable atomic.Bool
	return api.Config{
		URLPolicy:       models.URLPolicy{AllowHTTP: cfg.AllowHTTP},
		MaxPayloadBytes: cfg.MaxPayloadBytes,
		MaxWebhooks:     cfg.MaxWebhooks,
		RateLimit:       cfg.RateLimit,
		TrustedProxies:  cfg.TrustedProxies,
		PublicURL:       cfg.PublicURL,
		MetricsToken:    cfg.MetricsToken,
		TemporalUIURL:   cfg.TemporalUIURL,
		Namespace:       cfg.TemporalNamespace,
		PortalOrigins:   cfg.portalOrigins,
		PortalTheme:     cfg.portalTheme,
		Ready: func(ctx context.Context) error {
			if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
				return err
			}
			if usable.Load() {
				return nil
			}
			query := workflows.WorkspaceAttr.GetName() + " = '-'"
			if _, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query}); err != nil {
				return fmt.Errorf("search attributes not usable yet: %w", err)
			}
			usable.Store(true)
			return nil
		},
	}
}

// readyTimeout bounds each check of a readiness probe.
const readyTimeout = 3 * time.Second

// workerReady is a worker's /readyz: 200 while it can reach the database
// and Temporal, 503 naming the first it cannot, so that an orchestrator
// takes a cut-off worker out of rotation and an operator sees why.
func workerReady(st *store.Store, c client.Client) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		fail := func(what string, err error) {
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]string{"status": "unready", "error": what + ": " + err.Error()})
		}
		if err := st.Ping(ctx); err != nil {
			fail("database", err)
			return
		}
		if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			fail("temporal", err)
			return
		}
		_, _ = w.Write([]byte(`{"status":"ready"}`))
	}
}

// registerSearchAttributes registers the workflows' search attributes,
// retrying while Temporal is unreachable. Workflow starts name them, so a
// fresh cluster needs them before the first event, whichever process
// starts first.
func registerSearchAttributes(ctx context.Context, c client.Client, namespace string, logger *slog.Logger) {
	for {
		err := worker.EnsureSearchAttributes(ctx, c, namespace)
		if err == nil {
			return
		}
		logger.Warn("register search attributes; retrying", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

// serveHTTP serves h on l until ctx is done, then shuts down gracefully.
func serveHTTP(ctx context.Context, srv *http.Server, l net.Listener, shutdownTimeout time.Duration) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve %s: %w", l.Addr(), err)
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		return srv.Shutdown(shutdownCtx)
	})
	return g.Wait()
}

// openStore opens the database of an api or worker process: migrating it,
// or with TIDYHOOKS_MIGRATE_ON_START=false refusing a schema that is
// behind.
func openStore(ctx context.Context, cfg Config) (*store.Store, error) {
	st, err := store.Open(ctx, cfg.DatabaseURL, store.Options{EncryptionKeys: cfg.keys(), NoMigrate: !cfg.MigrateOnStart,
		MaxConns: cfg.DBMaxConns, MaxIdleConns: cfg.DBMaxIdleConns, ConnMaxLifetime: cfg.DBConnMaxLifetime})
	if err != nil {
		return nil, err
	}
	if !cfg.MigrateOnStart {
		if err := st.CheckSchema(ctx); err != nil {
			st.Close()
			return nil, err
		}
	}
	// A key missing stops the process here, naming what it cannot open,
	// not a delivery later.
	if err := st.CheckKeys(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// processDeps is what the api and worker processes open first: the
// database, a metrics registry, and the options of a Temporal client
// whose SDK metrics go to that registry.
type processDeps struct {
	st       *store.Store
	reg      *prometheus.Registry
	temporal client.Options
}

func openProcess(ctx context.Context, cfg Config, logger *slog.Logger) (*processDeps, error) {
	// api and worker reach Temporal as loadConfig resolved it (the
	// Temporal CLI's configuration); dev reaches its own embedded server.
	temporal := client.Options{HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace}
	if cfg.temporal != nil {
		temporal = *cfg.temporal
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	reg := newRegistry()
	sdkMetrics, err := worker.SDKMetrics(reg, logger)
	if err != nil {
		st.Close()
		return nil, err
	}
	temporal.Logger, temporal.MetricsHandler = sdklog.NewStructuredLogger(logger), sdkMetrics
	return &processDeps{st: st, reg: reg, temporal: temporal}, nil
}

// startWorker registers the search attributes on the namespace (a fresh
// cluster, or a dev data dir made by an earlier version, lacks those
// added since) and starts a delivery worker on c, with the census of
// webhooks and retries and the delivery metrics in p's registry.
func startWorker(ctx context.Context, cfg Config, p *processDeps, c client.Client, logger *slog.Logger) (sdkworker.Worker, *worker.Metrics, error) {
	if err := worker.EnsureSearchAttributes(ctx, c, cfg.TemporalNamespace); err != nil {
		return nil, nil, err
	}
	p.reg.MustRegister(worker.NewCensusCollector(p.st, logger))
	metrics := worker.NewMetrics(p.reg)
	actsCfg := activitiesConfig(cfg, metrics)
	actsCfg.Signaler = c // ordered deliveries start from the worker
	// and so do the webhook.paused events of automatic pauses.
	actsCfg.Announcer = emitter.New(p.st, c, emitter.Options{})
	w := worker.New(c, activities.New(p.st, actsCfg), worker.Options{MaxConcurrentActivities: cfg.WorkerActivities, StopTimeout: cfg.ShutdownTimeout})
	if err := w.Start(); err != nil {
		return nil, nil, fmt.Errorf("start worker: %w", err)
	}
	return w, metrics, nil
}

// runMaintenance runs a worker's background duties in g until ctx is done:
// pruning the log past its retention, and sweeping for delivery workflows
// that ended without settling their deliveries.
func runMaintenance(ctx context.Context, g *errgroup.Group, cfg Config, st *store.Store, c client.Client, metrics *worker.Metrics, logger *slog.Logger) {
	g.Go(func() error {
		worker.RunRetention(ctx, st, cfg.LogRetention, worker.PruneEvery, logger)
		return nil
	})
	g.Go(func() error {
		worker.RunSweeper(ctx, c, cfg.TemporalNamespace, st, metrics, worker.SweepEvery, logger)
		return nil
	})
	g.Go(func() error {
		worker.NewAnnouncements(st, emitter.New(st, c, emitter.Options{})).Run(ctx, worker.SweepEvery, logger)
		return nil
	})
}

// runAPI is the production API process.
func runAPI(ctx context.Context, cfg Config, logger *slog.Logger) error {
	p, err := openProcess(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer p.st.Close()
	st, reg := p.st, p.reg
	// Lazy: the API starts while Temporal is still coming up; /readyz tells.
	c, err := client.NewLazyClient(p.temporal)
	if err != nil {
		return fmt.Errorf("temporal client: %w", err)
	}
	defer c.Close()
	em := emitter.New(st, c, emitter.Options{MaxPayloadBytes: cfg.MaxPayloadBytes, MaxConcurrentStarts: cfg.MaxConcurrentStarts})
	reg.MustRegister(em.Collector())
	srv := api.NewHTTPServer(cfg.HTTPAddr, api.New(st, em, apiConfig(cfg, c), logger, reg).Handler(reg))
	l, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	logger.Info("api listening", "addr", l.Addr().String())
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { registerSearchAttributes(ctx, c, cfg.TemporalNamespace, logger); return nil })
	g.Go(func() error { return serveHTTP(ctx, srv, l, cfg.ShutdownTimeout) })
	return g.Wait()
}

// runWorker is the production worker process; it serves /metrics and
// /healthz on TIDYHOOKS_METRICS_ADDR.
func runWorker(ctx context.Context, cfg Config, logger *slog.Logger) error {
	p, err := openProcess(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer p.st.Close()
	st, reg := p.st, p.reg
	c, err := client.DialContext(ctx, p.temporal)
	if err != nil {
		return fmt.Errorf("connect to temporal at %s: %w", cfg.TemporalAddress, err)
	}
	defer c.Close()
	w, metrics, err := startWorker(ctx, cfg, p, c, logger)
	if err != nil {
		return err
	}
	defer w.Stop()
	g, ctx := errgroup.WithContext(ctx)
	runMaintenance(ctx, g, cfg, st, c, metrics, logger)
	mux := http.NewServeMux()
	mux.Handle("/metrics", api.MetricsHandler(reg, cfg.MetricsToken))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"status":"ok"}`)) })
	mux.HandleFunc("/readyz", workerReady(st, c))
	l, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	logger.Info("worker running", "task_queue", "tidyhooks-deliveries", "metrics_addr", l.Addr().String())
	g.Go(func() error { return serveHTTP(ctx, api.NewHTTPServer(cfg.MetricsAddr, mux), l, cfg.ShutdownTimeout) })
	return g.Wait()
}
