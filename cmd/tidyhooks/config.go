package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/tidysupport/tidyhooks/activities"
	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/store"
	"github.com/tidysupport/tidyhooks/worker"
	"github.com/tidysupport/tidyhooks/workflows"
)

// Config is every setting, read from the environment in loadConfig and
// validated there before anything starts. The README's configuration table
// documents each variable.
type Config struct {
	DatabaseURL string // DATABASE_URL
	// MigrateOnStart has api and worker apply pending migrations as they
	// start; when false they refuse a schema that is behind, and
	// `tidyhooks migrate` is a deployment step of its own.
	MigrateOnStart bool // TIDYHOOKS_MIGRATE_ON_START
	// ShutdownTimeout is how long, after SIGTERM, the API finishes
	// requests in flight and a worker its attempts in flight.
	ShutdownTimeout   time.Duration   // TIDYHOOKS_SHUTDOWN_TIMEOUT
	HTTPAddr          string          // TIDYHOOKS_HTTP_ADDR
	TemporalAddress   string          // TEMPORAL_ADDRESS
	TemporalNamespace string          // TEMPORAL_NAMESPACE
	RetrySchedule     []time.Duration // TIDYHOOKS_RETRY_SCHEDULE
	DeliveryTimeout   time.Duration   // TIDYHOOKS_DELIVERY_TIMEOUT
	RetryAfterMax     time.Duration   // TIDYHOOKS_RETRY_AFTER_MAX
	AutoPauseAfter    time.Duration   // TIDYHOOKS_AUTO_PAUSE_AFTER
	LogRetention      time.Duration   // TIDYHOOKS_LOG_RETENTION
	MaxPayloadBytes   int             // TIDYHOOKS_MAX_PAYLOAD_BYTES
	AllowHTTP         bool            // TIDYHOOKS_ALLOW_HTTP
	AllowedCIDRs      []netip.Prefix  // TIDYHOOKS_ALLOWED_CIDRS
	AllowLoopback     bool            // TIDYHOOKS_ALLOW_LOOPBACK
	WorkerActivities  int             // TIDYHOOKS_WORKER_ACTIVITIES
	MetricsAddr       string          // TIDYHOOKS_METRICS_ADDR (worker)
	LogLevel          slog.Level      // TIDYHOOKS_LOG_LEVEL
	LogFormat         string          // TIDYHOOKS_LOG_FORMAT
	EncryptionKey     []byte          // TIDYHOOKS_ENCRYPTION_KEY
	MaxWebhooks       int             // TIDYHOOKS_MAX_WEBHOOKS
	TrustedProxies    []string        // TIDYHOOKS_TRUSTED_PROXIES
	// WebhookMaxInFlight bounds one webhook's attempts in flight per worker.
	WebhookMaxInFlight int     // TIDYHOOKS_WEBHOOK_MAX_IN_FLIGHT
	RateLimit          float64 // TIDYHOOKS_RATE_LIMIT
	TemporalUIURL      string  // TIDYHOOKS_TEMPORAL_UI_URL
	// MaxConcurrentStarts bounds workflow starts in flight per process.
	MaxConcurrentStarts int // TIDYHOOKS_MAX_CONCURRENT_STARTS

	// dev mode only.
	DataDir      string // TIDYHOOKS_DATA_DIR, --data-dir
	TemporalPort int    // TIDYHOOKS_TEMPORAL_PORT, --temporal-port
	UIPort       int    // TIDYHOOKS_UI_PORT, --ui-port
	DevKey       string // TIDYHOOKS_DEV_KEY
	// TemporalDatabaseURL persists the embedded Temporal server to
	// PostgreSQL instead of SQLite, with TemporalShards history shards.
	TemporalDatabaseURL string // TIDYHOOKS_TEMPORAL_DATABASE_URL
	TemporalShards      int    // TIDYHOOKS_TEMPORAL_SHARDS
}

// mode is the subcommand the configuration is for.
type mode string

const (
	modeDev    mode = "dev"
	modeAPI    mode = "api"
	modeWorker mode = "worker"
	// modeMigrate reads DATABASE_URL only; nothing else is required.
	modeMigrate mode = "migrate"
)

// loadConfig reads the environment for mode. Every bad value is reported
// together, naming its variable.
func loadConfig(m mode, getenv func(string) string) (Config, error) {
	var errs []error
	env := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	duration := func(name string, def time.Duration) time.Duration {
		raw := env(name, "")
		if raw == "" {
			return def
		}
		d, err := time.ParseDuration(raw)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a positive Go duration such as 15s", name, raw))
			return def
		}
		return d
	}
	integer := func(name string, def, lo, hi int) int {
		raw := env(name, "")
		if raw == "" {
			return def
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < lo || n > hi {
			errs = append(errs, fmt.Errorf("%s=%q: want a whole number from %d to %d", name, raw, lo, hi))
			return def
		}
		return n
	}
	boolean := func(name string, def bool) bool {
		raw := env(name, "")
		if raw == "" {
			return def
		}
		b, err := strconv.ParseBool(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: want true or false", name, raw))
			return def
		}
		return b
	}

	dev := m == modeDev
	c := Config{
		DatabaseURL:         env("DATABASE_URL", ""),
		MigrateOnStart:      boolean("TIDYHOOKS_MIGRATE_ON_START", true),
		ShutdownTimeout:     duration("TIDYHOOKS_SHUTDOWN_TIMEOUT", 30*time.Second),
		HTTPAddr:            env("TIDYHOOKS_HTTP_ADDR", map[bool]string{true: "127.0.0.1:8080", false: ":8080"}[dev]),
		TemporalAddress:     env("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		TemporalNamespace:   env("TEMPORAL_NAMESPACE", "default"),
		TemporalUIURL:       env("TIDYHOOKS_TEMPORAL_UI_URL", ""),
		DeliveryTimeout:     duration("TIDYHOOKS_DELIVERY_TIMEOUT", activities.DefaultTimeout),
		RetryAfterMax:       duration("TIDYHOOKS_RETRY_AFTER_MAX", models.DefaultRetryAfterCap),
		AutoPauseAfter:      duration("TIDYHOOKS_AUTO_PAUSE_AFTER", activities.DefaultPauseAfter),
		LogRetention:        duration("TIDYHOOKS_LOG_RETENTION", worker.DefaultRetention),
		MaxPayloadBytes:     integer("TIDYHOOKS_MAX_PAYLOAD_BYTES", models.DefaultMaxPayloadBytes, 1024, 4<<20),
		AllowHTTP:           boolean("TIDYHOOKS_ALLOW_HTTP", dev),
		AllowLoopback:       boolean("TIDYHOOKS_ALLOW_LOOPBACK", dev),
		WorkerActivities:    integer("TIDYHOOKS_WORKER_ACTIVITIES", 200, 1, 10000),
		MetricsAddr:         env("TIDYHOOKS_METRICS_ADDR", ":9090"),
		LogFormat:           env("TIDYHOOKS_LOG_FORMAT", map[bool]string{true: "text", false: "json"}[dev]),
		MaxWebhooks:         integer("TIDYHOOKS_MAX_WEBHOOKS", 100, 1, workflows.MaxWebhooksPerEvent),
		WebhookMaxInFlight:  integer("TIDYHOOKS_WEBHOOK_MAX_IN_FLIGHT", activities.DefaultWebhookMaxInFlight, 1, 10000),
		RateLimit:           float64(integer("TIDYHOOKS_RATE_LIMIT", map[bool]int{true: 1000, false: 100}[dev], 1, 1000000)),
		MaxConcurrentStarts: integer("TIDYHOOKS_MAX_CONCURRENT_STARTS", map[bool]int{true: 16, false: 0}[dev], 0, 100000),
		DataDir:             env("TIDYHOOKS_DATA_DIR", ".tidyhooks"),
		TemporalPort:        integer("TIDYHOOKS_TEMPORAL_PORT", 7233, 1, 32760),
		UIPort:              integer("TIDYHOOKS_UI_PORT", 8233, 0, 65535),
		DevKey:              env("TIDYHOOKS_DEV_KEY", ""),
		TemporalDatabaseURL: env("TIDYHOOKS_TEMPORAL_DATABASE_URL", ""),
		TemporalShards:      integer("TIDYHOOKS_TEMPORAL_SHARDS", 0, 1, 1024),
	}
	if u := c.TemporalDatabaseURL; u != "" && !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		errs = append(errs, errors.New("TIDYHOOKS_TEMPORAL_DATABASE_URL: want postgres://user@host:port/database"))
	}
	if u := c.TemporalUIURL; u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		errs = append(errs, fmt.Errorf("TIDYHOOKS_TEMPORAL_UI_URL=%q: want an http(s) URL", u))
	}
	if c.RetryAfterMax > models.MaxRetryWait {
		errs = append(errs, fmt.Errorf("TIDYHOOKS_RETRY_AFTER_MAX=%s: at most %s", c.RetryAfterMax, models.MaxRetryWait))
	}
	if c.DeliveryTimeout > activities.MaxTimeout {
		errs = append(errs, fmt.Errorf("TIDYHOOKS_DELIVERY_TIMEOUT=%s: at most %s", c.DeliveryTimeout, activities.MaxTimeout))
	}
	if raw := env("TIDYHOOKS_RETRY_SCHEDULE", ""); raw != "" {
		s, err := parseSchedule(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("TIDYHOOKS_RETRY_SCHEDULE=%q: %w", raw, err))
		}
		c.RetrySchedule = s
	} else {
		c.RetrySchedule = models.DefaultRetrySchedule
	}
	// Events are pruned with the log: retention must outlast every retry
	// the schedule (with its jitter) can still make.
	if need := (models.RetryPolicy{Schedule: c.RetrySchedule}).Horizon(); c.LogRetention < need {
		errs = append(errs, fmt.Errorf("TIDYHOOKS_LOG_RETENTION=%s: must be at least %s, longer than the retry schedule with its jitter, or events still being retried would be removed", c.LogRetention, need))
	}
	if raw := env("TIDYHOOKS_ALLOWED_CIDRS", ""); raw != "" {
		for _, part := range strings.Split(raw, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(part))
			if err != nil {
				errs = append(errs, fmt.Errorf("TIDYHOOKS_ALLOWED_CIDRS: %q is not a CIDR such as 10.0.0.0/8", part))
				continue
			}
			c.AllowedCIDRs = append(c.AllowedCIDRs, p.Masked())
		}
	}
	if raw := env("TIDYHOOKS_TRUSTED_PROXIES", ""); raw != "" {
		for _, part := range strings.Split(raw, ",") {
			part = strings.TrimSpace(part)
			if _, err := netip.ParsePrefix(part); err != nil {
				if _, err := netip.ParseAddr(part); err != nil {
					errs = append(errs, fmt.Errorf("TIDYHOOKS_TRUSTED_PROXIES: %q is not an IP address or CIDR such as 10.0.0.0/8", part))
					continue
				}
			}
			c.TrustedProxies = append(c.TrustedProxies, part)
		}
	}
	switch lvl := strings.ToLower(env("TIDYHOOKS_LOG_LEVEL", "info")); lvl {
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "info":
		c.LogLevel = slog.LevelInfo
	case "warn":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		errs = append(errs, fmt.Errorf("TIDYHOOKS_LOG_LEVEL=%q: want debug, info, warn or error", lvl))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("TIDYHOOKS_LOG_FORMAT=%q: want json or text", c.LogFormat))
	}
	for name, addr := range map[string]string{"TIDYHOOKS_HTTP_ADDR": c.HTTPAddr, "TEMPORAL_ADDRESS": c.TemporalAddress, "TIDYHOOKS_METRICS_ADDR": c.MetricsAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: want host:port", name, addr))
		}
	}
	if c.DevKey != "" && (!strings.HasPrefix(c.DevKey, "tsk_") || len(c.DevKey) < 20) {
		errs = append(errs, fmt.Errorf("TIDYHOOKS_DEV_KEY: want tsk_ followed by at least 16 characters"))
	}
	if raw := env("TIDYHOOKS_ENCRYPTION_KEY", ""); raw != "" {
		key, err := base64.StdEncoding.DecodeString(raw)
		if err != nil || len(key) != store.KeySize {
			errs = append(errs, fmt.Errorf("TIDYHOOKS_ENCRYPTION_KEY: want base64 of %d random bytes (openssl rand -base64 %d)", store.KeySize, store.KeySize))
		}
		c.EncryptionKey = key
	} else if !dev && m != modeMigrate {
		errs = append(errs, fmt.Errorf("TIDYHOOKS_ENCRYPTION_KEY is required: base64 of %d random bytes (openssl rand -base64 %d); it encrypts webhook secrets at rest", store.KeySize, store.KeySize))
	}
	if !dev && c.DatabaseURL == "" {
		errs = append(errs, errors.New("DATABASE_URL is required (postgres://… or sqlite:<path>)"))
	}
	return c, errors.Join(errs...)
}

// parseSchedule reads comma-separated Go durations.
func parseSchedule(raw string) ([]time.Duration, error) {
	var out []time.Duration
	for _, part := range strings.Split(raw, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%q is not a positive Go duration such as 5s or 30m", strings.TrimSpace(part))
		}
		out = append(out, d)
	}
	for _, d := range out {
		if d > models.MaxRetryWait {
			return nil, fmt.Errorf("%s is longer than the longest allowed wait, %s", d, models.MaxRetryWait)
		}
	}
	if len(out) > 50 {
		return nil, errors.New("at most 50 retries")
	}
	return out, nil
}
