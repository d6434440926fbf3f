// Package api is the HTTP surface: the management API customers call, the
// ingest API the platform calls, health, readiness and metrics. Routes are
// listed in routes.go; errors become statuses in errors.go only. It imports
// models and signing; storage and the emitter reach it through the small
// interfaces declared here. It never imports store, workflows or cmd.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidysupport/tidyhooks/models"
)

// Store is what the API reads and writes directly.
type Store interface {
	APIKeyByValue(ctx context.Context, value string) (models.APIKey, error)
	CreateWebhook(ctx context.Context, w models.Webhook, secret string) (models.Webhook, error)
	ListWebhooks(ctx context.Context, workspaceID, cursor string, limit int) (models.Page[models.Webhook], error)
	Webhook(ctx context.Context, workspaceID, id string) (models.Webhook, error)
	Ping(ctx context.Context) error
}

// Emitter accepts events.
type Emitter interface {
	Prepare(r models.EmitRequest, keyWorkspace string) (models.Event, error)
	PrepareBatch(rs []models.EmitRequest, keyWorkspace string) ([]models.Event, error)
	Publish(ctx context.Context, events []models.Event) error
}

// Config is the API's share of the deployment settings.
type Config struct {
	URLPolicy       models.URLPolicy
	MaxPayloadBytes int
	// Ready reports whether dependencies other than the database (Temporal)
	// answer; nil means always.
	Ready func(ctx context.Context) error
}

// Server holds the handlers' dependencies.
type Server struct {
	store   Store
	emitter Emitter
	cfg     Config
	logger  *slog.Logger
	metrics *metrics
}

// New returns the API; Handler serves it.
func New(s Store, e Emitter, cfg Config, logger *slog.Logger, reg prometheus.Registerer) *Server {
	if cfg.MaxPayloadBytes <= 0 {
		cfg.MaxPayloadBytes = models.DefaultMaxPayloadBytes
	}
	return &Server{store: s, emitter: e, cfg: cfg, logger: logger, metrics: newMetrics(reg)}
}

// NewHTTPServer wraps h with timeouts suited to the API.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
}

func init() { gin.SetMode(gin.ReleaseMode) }
