// Package api is the HTTP surface: the management API customers call, the
// ingest API the platform calls, the dashboard's pages, health, readiness
// and metrics. Routes are listed in routes.go; errors become statuses in
// errors.go only. It imports models, signing, dashboard, and the emitter's
// and workflows' result types; storage and the emitter reach it through the
// interfaces declared here (Store, the methods handlers call on storage). It never imports store, activities or
// cmd.
package api

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidysupport/tidyhooks/emitter"
	"github.com/tidysupport/tidyhooks/models"
)

// Store is what the API reads and writes directly.
type Store interface {
	APIKeyByValue(ctx context.Context, value string) (models.APIKey, error)
	CreateWebhook(ctx context.Context, w models.Webhook, secret string, limit int) (models.Webhook, error)
	ListWebhooks(ctx context.Context, workspaceID, cursor string, limit int) (models.Page[models.Webhook], error)
	Webhook(ctx context.Context, workspaceID, id string) (models.Webhook, error)
	UpdateWebhook(ctx context.Context, workspaceID, id string, change func(*models.Webhook) error) (models.Webhook, error)
	DeleteWebhook(ctx context.Context, workspaceID, id string) error
	Secrets(ctx context.Context, workspaceID, id string) ([]models.Secret, error)
	RotateSecret(ctx context.Context, workspaceID, id, secret string, grace time.Duration) (time.Time, error)
	Deliveries(ctx context.Context, workspaceID, webhookID string, f models.DeliveryFilter, cursor string, limit int) (models.Page[models.Delivery], error)
	Delivery(ctx context.Context, workspaceID, id string) (models.Delivery, error)
	Event(ctx context.Context, workspaceID, id string) (models.Event, error)
	AcknowledgePause(ctx context.Context, workspaceID, id string) (models.Webhook, error)
	CreatePortalCode(ctx context.Context, g models.PortalGrant) (code string, expiresAt time.Time, err error)
	ExchangePortalCode(ctx context.Context, code string) (sess models.PortalSession, token, csrf string, err error)
	PortalSession(ctx context.Context, token string) (models.PortalSession, error)
	EndPortalSession(ctx context.Context, id string) error
	CountRecoverable(ctx context.Context, workspaceID, webhookID string, since, until time.Time) (int, error)
	DeliveryStats(ctx context.Context, workspaceID, webhookID string, now time.Time, days int) ([]models.DayStats, error)
	Ping(ctx context.Context) error
}

// Emitter accepts events.
type Emitter interface {
	Prepare(r models.EmitRequest, keyWorkspace string) (models.Event, error)
	PrepareBatch(rs []models.EmitRequest, keyWorkspace string) ([]models.Event, error)
	Publish(ctx context.Context, events []models.Event) error
	Test(ctx context.Context, workspaceID, webhookID string, typ models.EventType) (emitter.TestResult, error)
	Retry(ctx context.Context, d models.Delivery) (emitter.RetryResult, error)
	Recover(ctx context.Context, workspaceID, webhookID string, since, until time.Time) (workflowID, runID string, err error)
}

// Config is the API's share of the deployment settings.
type Config struct {
	// PortalOrigins may frame the dashboard and be a portal session's
	// returnUrl; PortalTheme is the portal's look (nil: the default).
	PortalOrigins   []string
	PortalTheme     *models.PortalTheme
	URLPolicy       models.URLPolicy
	MaxPayloadBytes int
	// MaxWebhooks per workspace; 0 means DefaultMaxWebhooks.
	MaxWebhooks int
	// RateLimit is each key's sustained requests per second (bursts of
	// twice that); 0 means DefaultRateLimit, negative disables it.
	RateLimit float64
	// AuthFailureRate is each client address's sustained failed
	// authentications per second (bursts of twice that) before it is
	// answered 429 without a lookup; 0 means DefaultAuthFailureRate,
	// negative disables it.
	AuthFailureRate float64
	// TrustedProxies are the addresses or CIDRs of reverse proxies whose
	// X-Forwarded-For names the client; none by default, so that a client
	// cannot pick the address it is limited by.
	TrustedProxies []string
	// PublicURL is where browsers reach the API (https://hooks.example.com):
	// portal links point there and its scheme decides the cookies' Secure
	// flag. Without it, the request's Host and, from a trusted proxy only,
	// X-Forwarded-Proto.
	PublicURL string
	// MetricsToken, when set, is the bearer token /metrics asks for.
	MetricsToken string
	// TemporalUIURL is the Temporal Web UI's base URL, for links to a
	// delivery's workflow; "" for no links. Namespace is the workflows'.
	TemporalUIURL string
	Namespace     string
	// Ready reports whether dependencies other than the database (Temporal)
	// answer; nil means always.
	Ready func(ctx context.Context) error
}

// Defaults of Config.
const (
	DefaultMaxWebhooks = 100
	DefaultRateLimit   = 100
	// DefaultAuthFailureRate lets a client address fail authentication
	// twice a second on average, in bursts of four.
	DefaultAuthFailureRate = 2
)

// Server holds the handlers' dependencies.
type Server struct {
	store   Store
	emitter Emitter
	cfg     Config
	logger  *slog.Logger
	metrics *metrics
	limits  *limiter
	// authFailures counts failed authentications per client address;
	// goodKeys are the keys seen valid lately, let through a limited
	// address.
	authFailures *limiter
	goodKeys     *expirable.LRU[[32]byte, struct{}]
	// proxies are TrustedProxies parsed, addresses as one-address prefixes.
	proxies []netip.Prefix
}

// New returns the API; Handler serves it.
func New(s Store, e Emitter, cfg Config, logger *slog.Logger, reg prometheus.Registerer) *Server {
	if cfg.MaxPayloadBytes <= 0 {
		cfg.MaxPayloadBytes = models.DefaultMaxPayloadBytes
	}
	if cfg.MaxWebhooks <= 0 {
		cfg.MaxWebhooks = DefaultMaxWebhooks
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = DefaultRateLimit
	}
	return &Server{store: s, emitter: e, cfg: cfg, logger: logger, metrics: newMetrics(reg), limits: newLimiter(cfg.RateLimit),
		authFailures: newLimiter(cmp.Or(cfg.AuthFailureRate, DefaultAuthFailureRate)), goodKeys: newGoodKeys(),
		proxies: parseProxies(cfg.TrustedProxies)}
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
