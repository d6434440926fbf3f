package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"golang.org/x/sync/errgroup"

	"github.com/tidysupport/tidyhooks/activities"
	"github.com/tidysupport/tidyhooks/api"
	"github.com/tidysupport/tidyhooks/emitter"
	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/netguard"
	"github.com/tidysupport/tidyhooks/store"
	"github.com/tidysupport/tidyhooks/worker"
)

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func activitiesConfig(cfg Config) activities.Config {
	return activities.Config{
		Schedule:      cfg.RetrySchedule,
		Timeout:       cfg.DeliveryTimeout,
		RetryAfterCap: cfg.RetryAfterMax,
		Network:       netguard.Policy{AllowLoopback: cfg.AllowLoopback, Allow: cfg.AllowedCIDRs},
		UserAgent:     "TidySupport-Webhooks/" + version,
	}
}

func apiConfig(cfg Config, c client.Client) api.Config {
	return api.Config{
		URLPolicy:       models.URLPolicy{AllowHTTP: cfg.AllowHTTP},
		MaxPayloadBytes: cfg.MaxPayloadBytes,
		Ready: func(ctx context.Context) error {
			_, err := c.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		},
	}
}

// serveHTTP serves h on l until ctx is done, then shuts down gracefully.
func serveHTTP(ctx context.Context, srv *http.Server, l net.Listener) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve %s: %w", l.Addr(), err)
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
		defer cancel()
		return srv.Shutdown(shutdownCtx)
	})
	return g.Wait()
}

// runAPI is the production API process.
func runAPI(ctx context.Context, cfg Config, logger *slog.Logger) error {
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	// Lazy: the API starts while Temporal is still coming up; /readyz tells.
	c, err := client.NewLazyClient(client.Options{
		HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace, Logger: sdklog.NewStructuredLogger(logger),
	})
	if err != nil {
		return fmt.Errorf("temporal client: %w", err)
	}
	defer c.Close()
	reg := newRegistry()
	em := emitter.New(st, c, emitter.Options{MaxPayloadBytes: cfg.MaxPayloadBytes})
	srv := api.NewHTTPServer(cfg.HTTPAddr, api.New(st, em, apiConfig(cfg, c), logger, reg).Handler(reg))
	l, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	logger.Info("api listening", "addr", l.Addr().String())
	return serveHTTP(ctx, srv, l)
}

// runWorker is the production worker process; it serves /metrics and
// /healthz on TIDYHOOKS_METRICS_ADDR.
func runWorker(ctx context.Context, cfg Config, logger *slog.Logger) error {
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := client.DialContext(ctx, client.Options{
		HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace, Logger: sdklog.NewStructuredLogger(logger),
	})
	if err != nil {
		return fmt.Errorf("connect to temporal at %s: %w", cfg.TemporalAddress, err)
	}
	defer c.Close()
	if err := worker.EnsureSearchAttributes(ctx, c, cfg.TemporalNamespace); err != nil {
		return err
	}
	w := worker.New(c, activities.New(st, activitiesConfig(cfg)), worker.Options{MaxConcurrentActivities: cfg.WorkerActivities})
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	defer w.Stop()
	reg := newRegistry()
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"status":"ok"}`)) })
	l, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	logger.Info("worker running", "task_queue", "tidyhooks-deliveries", "metrics_addr", l.Addr().String())
	return serveHTTP(ctx, api.NewHTTPServer(cfg.MetricsAddr, mux), l)
}
