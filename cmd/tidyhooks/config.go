package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"go.temporal.io/sdk/client"

	"github.com/tidysupport/tidyhooks/activities"
	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/store"
	"github.com/tidysupport/tidyhooks/worker"
	"github.com/tidysupport/tidyhooks/workflows"
)

// Config is every setting, read from the environment by loadConfig and
// validated there before anything starts. Each field's env tag names its
// variable; the README's configuration table documents each one.
type Config struct {
	DatabaseURL string `env:"DATABASE_URL"`
	// The PostgreSQL connection pool of one process: connections at
	// most, kept idle at most, and how long one lives before it is
	// replaced (so that a failover or a rotated credential is picked up).
	DBMaxConns        int           `env:"TIDYHOOKS_DB_MAX_CONNS"`
	DBMaxIdleConns    int           `env:"TIDYHOOKS_DB_MAX_IDLE_CONNS"`
	DBConnMaxLifetime time.Duration `env:"TIDYHOOKS_DB_CONN_MAX_LIFETIME"`
	// MigrateOnStart has api and worker apply pending migrations as they
	// start; when false they refuse a schema that is behind, and
	// `tidyhooks migrate` is a deployment step of its own.
	MigrateOnStart bool `env:"TIDYHOOKS_MIGRATE_ON_START"`
	// ShutdownTimeout is how long, after SIGTERM, the API finishes
	// requests in flight and a worker its attempts in flight.
	ShutdownTimeout   time.Duration   `env:"TIDYHOOKS_SHUTDOWN_TIMEOUT"`
	HTTPAddr          string          `env:"TIDYHOOKS_HTTP_ADDR"`
	TemporalAddress   string          `env:"TEMPORAL_ADDRESS"`
	TemporalNamespace string          `env:"TEMPORAL_NAMESPACE"`
	RetrySchedule     []time.Duration `env:"TIDYHOOKS_RETRY_SCHEDULE"`
	DeliveryTimeout   time.Duration   `env:"TIDYHOOKS_DELIVERY_TIMEOUT"`
	RetryAfterMax     time.Duration   `env:"TIDYHOOKS_RETRY_AFTER_MAX"`
	AutoPauseAfter    time.Duration   `env:"TIDYHOOKS_AUTO_PAUSE_AFTER"`
	LogRetention      time.Duration   `env:"TIDYHOOKS_LOG_RETENTION"`
	MaxPayloadBytes   int             `env:"TIDYHOOKS_MAX_PAYLOAD_BYTES"`
	AllowHTTP         bool            `env:"TIDYHOOKS_ALLOW_HTTP"`
	AllowedCIDRs      []netip.Prefix  `env:"TIDYHOOKS_ALLOWED_CIDRS"`
	AllowLoopback     bool            `env:"TIDYHOOKS_ALLOW_LOOPBACK"`
	WorkerActivities  int             `env:"TIDYHOOKS_WORKER_ACTIVITIES"`
	MetricsAddr       string          `env:"TIDYHOOKS_METRICS_ADDR"` // worker
	LogLevel          slog.Level      `env:"TIDYHOOKS_LOG_LEVEL"`
	LogFormat         string          `env:"TIDYHOOKS_LOG_FORMAT"`
	EncryptionKey     encryptionKey   `env:"TIDYHOOKS_ENCRYPTION_KEY"`
	// EncryptionKeys, instead of EncryptionKey, are several keys: the
	// first seals, every one opens (rotation: `tidyhooks rekey`).
	EncryptionKeys encryptionKeys `env:"TIDYHOOKS_ENCRYPTION_KEYS"`
	MaxWebhooks    int            `env:"TIDYHOOKS_MAX_WEBHOOKS"`
	TrustedProxies []string       `env:"TIDYHOOKS_TRUSTED_PROXIES"`
	// WebhookMaxInFlight bounds one webhook's attempts in flight per worker.
	WebhookMaxInFlight int     `env:"TIDYHOOKS_WEBHOOK_MAX_IN_FLIGHT"`
	RateLimit          float64 `env:"TIDYHOOKS_RATE_LIMIT"`
	TemporalUIURL      string  `env:"TIDYHOOKS_TEMPORAL_UI_URL"`
	// PublicURL is where browsers reach the API; portal links use it.
	PublicURL string `env:"TIDYHOOKS_PUBLIC_URL"`
	// MetricsToken, when set, is the bearer token /metrics asks for, on the
	// API's port and on a worker's metrics address.
	MetricsToken string `env:"TIDYHOOKS_METRICS_TOKEN"`
	// MaxConcurrentStarts bounds workflow starts in flight per process.
	MaxConcurrentStarts int `env:"TIDYHOOKS_MAX_CONCURRENT_STARTS"`
	// The embeddable portal: the origins that may frame the dashboard (and
	// that a session's returnUrl may lead to), and its look.
	PortalFrameAncestors string `env:"TIDYHOOKS_PORTAL_FRAME_ANCESTORS"`
	PortalTheme          string `env:"TIDYHOOKS_PORTAL_THEME"`
	portalOrigins        []string
	portalTheme          *models.PortalTheme

	// dev mode only.
	DataDir      string `env:"TIDYHOOKS_DATA_DIR"`      // --data-dir
	TemporalPort int    `env:"TIDYHOOKS_TEMPORAL_PORT"` // --temporal-port
	UIPort       int    `env:"TIDYHOOKS_UI_PORT"`       // --ui-port
	DevKey       string `env:"TIDYHOOKS_DEV_KEY"`
	// TemporalDatabaseURL persists the embedded Temporal server to
	// PostgreSQL instead of SQLite, with TemporalShards history shards.
	TemporalDatabaseURL string `env:"TIDYHOOKS_TEMPORAL_DATABASE_URL"`
	TemporalShards      int    `env:"TIDYHOOKS_TEMPORAL_SHARDS"`

	// temporal is how api and worker reach Temporal (temporalClientOptions),
	// resolved by loadConfig; nil in dev, which reaches its own server.
	temporal *client.Options
}

// encryptionKey is TIDYHOOKS_ENCRYPTION_KEY: base64 of store.KeySize bytes.
type encryptionKey []byte

func (k *encryptionKey) UnmarshalText(text []byte) error {
	key, err := base64.StdEncoding.DecodeString(string(text))
	if err != nil || len(key) != store.KeySize {
		return fmt.Errorf("want base64 of %d random bytes (openssl rand -base64 %d)", store.KeySize, store.KeySize)
	}
	*k = key
	return nil
}

// encryptionKeys is TIDYHOOKS_ENCRYPTION_KEYS: comma-separated keys, each
// base64 of store.KeySize bytes, the sealing one first.
type encryptionKeys [][]byte

func (k *encryptionKeys) UnmarshalText(text []byte) error {
	var keys [][]byte
	for i, part := range strings.Split(string(text), ",") {
		var key encryptionKey
		if err := key.UnmarshalText([]byte(strings.TrimSpace(part))); err != nil {
			return fmt.Errorf("key %d: %w", i+1, err)
		}
		keys = append(keys, key)
	}
	*k = keys
	return nil
}

// keys are the configured encryption keys, the sealing one first.
func (c Config) keys() [][]byte {
	if c.EncryptionKey != nil {
		return [][]byte{c.EncryptionKey}
	}
	return c.EncryptionKeys
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

// defaults is the configuration of m before the environment is read: dev
// listens on loopback, allows plain-HTTP and loopback endpoints, logs
// text and bounds its starts for eager start; production does none of it.
func defaults(m mode) Config {
	c := Config{
		MigrateOnStart:      true,
		DBMaxConns:          store.DefaultMaxConns,
		DBConnMaxLifetime:   store.DefaultConnMaxLifetime,
		ShutdownTimeout:     30 * time.Second,
		HTTPAddr:            ":8080",
		TemporalAddress:     "127.0.0.1:7233",
		TemporalNamespace:   "default",
		RetrySchedule:       models.DefaultRetrySchedule,
		DeliveryTimeout:     activities.DefaultTimeout,
		RetryAfterMax:       models.DefaultRetryAfterCap,
		AutoPauseAfter:      activities.DefaultPauseAfter,
		LogRetention:        worker.DefaultRetention,
		MaxPayloadBytes:     models.DefaultMaxPayloadBytes,
		WorkerActivities:    200,
		MetricsAddr:         ":9090",
		LogLevel:            slog.LevelInfo,
		LogFormat:           "json",
		MaxWebhooks:         100,
		WebhookMaxInFlight:  activities.DefaultWebhookMaxInFlight,
		RateLimit:           100,
		DataDir:             ".tidyhooks",
		TemporalPort:        7233,
		UIPort:              8233,
		MaxConcurrentStarts: 0,
	}
	if m == modeDev {
		c.HTTPAddr = "127.0.0.1:8080"
		c.AllowHTTP, c.AllowLoopback = true, true
		c.LogFormat = "text"
		c.RateLimit = 1000
		// Eager starts bounded to what the in-process worker takes at
		// once: 4 against 16 took the full-load p99 from 13 s to 1.4 s at
		// a higher delivered/s (BENCHMARKS.md, "Bounding dev's starts").
		c.MaxConcurrentStarts = 4
	}
	return c
}

// wants says, for a variable whose value does not parse, what it takes.
var wants = map[reflect.Type]string{
	reflect.TypeFor[time.Duration]():   "a positive Go duration such as 15s",
	reflect.TypeFor[int]():             "a whole number",
	reflect.TypeFor[float64]():         "a number",
	reflect.TypeFor[bool]():            "true or false",
	reflect.TypeFor[slog.Level]():      "debug, info, warn or error",
	reflect.TypeFor[[]netip.Prefix]():  "CIDRs such as 10.0.0.0/8, comma-separated",
	reflect.TypeFor[[]time.Duration](): "positive Go durations such as 5s or 30m, comma-separated",
	reflect.TypeFor[encryptionKey]():   fmt.Sprintf("base64 of %d random bytes (openssl rand -base64 %d)", store.KeySize, store.KeySize),
}

// loadConfig reads the environment for mode (through caarlos0/env, over
// defaults(m)) and checks every value. Every bad value is reported
// together, naming its variable, in the order of Config's fields.
func loadConfig(m mode, getenv func(string) string) (Config, error) {
	c := defaults(m)
	fields := reflect.TypeFor[Config]()
	vars := map[string]string{}
	for i := range fields.NumField() {
		name := fields.Field(i).Tag.Get("env")
		if name == "" {
			continue // not read from the environment
		}
		if v := strings.TrimSpace(getenv(name)); v != "" {
			vars[name] = v
		}
	}
	var errs []error
	err := env.ParseWithOptions(&c, env.Options{
		Environment: vars,
		FuncMap: map[reflect.Type]env.ParserFunc{
			reflect.TypeFor[[]time.Duration](): func(v string) (any, error) { return parseSchedule(v) },
			reflect.TypeFor[[]netip.Prefix]():  func(v string) (any, error) { return parseCIDRs(v) },
		},
	})
	var agg env.AggregateError
	if errors.As(err, &agg) {
		for _, e := range agg.Errors {
			var pe env.ParseError
			if !errors.As(e, &pe) {
				errs = append(errs, e)
				continue
			}
			f, _ := fields.FieldByName(pe.Name)
			name := f.Tag.Get("env")
			if f.Type == reflect.TypeFor[encryptionKey]() {
				// A key, even a wrong one, is not repeated into logs.
				errs = append(errs, fmt.Errorf("%s: want %s", name, wants[f.Type]))
				continue
			}
			errs = append(errs, fmt.Errorf("%s=%q: want %s (%v)", name, vars[name], wants[f.Type], pe.Err))
		}
	} else if err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.check(m, vars)...)
	if m == modeAPI || m == modeWorker {
		opts, err := temporalClientOptions(c, getenv)
		if err != nil {
			errs = append(errs, err)
		} else {
			c.temporal, c.TemporalAddress, c.TemporalNamespace = &opts, opts.HostPort, opts.Namespace
		}
	}
	return c, errors.Join(errs...)
}

// check returns what is wrong with c's values beyond their types: first
// the required ones and the ranges of durations and numbers, then the rest
// (checkTexts), each group in the order of Config's fields.
func (c *Config) check(m mode, vars map[string]string) []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s=%q: "+format, append([]any{name, vars[name]}, args...)...))
	}
	if m != modeDev && c.DatabaseURL == "" {
		errs = append(errs, errors.New("DATABASE_URL is required (postgres://… or sqlite:<path>)"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
		max  time.Duration
	}{
		{"TIDYHOOKS_SHUTDOWN_TIMEOUT", c.ShutdownTimeout, 0},
		{"TIDYHOOKS_DELIVERY_TIMEOUT", c.DeliveryTimeout, activities.MaxTimeout},
		{"TIDYHOOKS_RETRY_AFTER_MAX", c.RetryAfterMax, models.MaxRetryWait},
		{"TIDYHOOKS_AUTO_PAUSE_AFTER", c.AutoPauseAfter, 0},
		{"TIDYHOOKS_LOG_RETENTION", c.LogRetention, 0},
		{"TIDYHOOKS_DB_CONN_MAX_LIFETIME", c.DBConnMaxLifetime, 24 * time.Hour},
	} {
		switch {
		case d.v <= 0:
			bad(d.name, "want a positive Go duration such as 15s")
		case d.max > 0 && d.v > d.max:
			bad(d.name, "at most %s", d.max)
		}
	}
	// Events are pruned with the log: retention must outlast every retry
	// the schedule (with its jitter) can still make.
	if need := (models.RetryPolicy{Schedule: c.RetrySchedule}).Horizon(); c.LogRetention > 0 && c.LogRetention < need {
		bad("TIDYHOOKS_LOG_RETENTION", "must be at least %s, longer than the retry schedule with its jitter, or events still being retried would be removed", need)
	}
	for _, n := range []struct {
		name   string
		v      int
		lo, hi int
	}{
		{"TIDYHOOKS_MAX_PAYLOAD_BYTES", c.MaxPayloadBytes, 1024, 4 << 20},
		{"TIDYHOOKS_WORKER_ACTIVITIES", c.WorkerActivities, 1, 10000},
		{"TIDYHOOKS_MAX_WEBHOOKS", c.MaxWebhooks, 1, workflows.MaxWebhooksPerEvent},
		{"TIDYHOOKS_WEBHOOK_MAX_IN_FLIGHT", c.WebhookMaxInFlight, 1, 10000},
		{"TIDYHOOKS_RATE_LIMIT", int(c.RateLimit), 1, 1000000},
		{"TIDYHOOKS_MAX_CONCURRENT_STARTS", c.MaxConcurrentStarts, 0, 100000},
		{"TIDYHOOKS_TEMPORAL_PORT", c.TemporalPort, 1, 32760},
		{"TIDYHOOKS_UI_PORT", c.UIPort, 0, 65535},
		{"TIDYHOOKS_DB_MAX_CONNS", c.DBMaxConns, 1, 1000},
		{"TIDYHOOKS_DB_MAX_IDLE_CONNS", c.DBMaxIdleConns, 0, c.DBMaxConns},
	} {
		if n.v < n.lo || n.v > n.hi {
			bad(n.name, "want a whole number from %d to %d", n.lo, n.hi)
		}
	}
	if c.RateLimit != float64(int(c.RateLimit)) {
		bad("TIDYHOOKS_RATE_LIMIT", "want a whole number of requests per second")
	}
	if c.TemporalShards < 0 || c.TemporalShards > 1024 || vars["TIDYHOOKS_TEMPORAL_SHARDS"] != "" && c.TemporalShards == 0 {
		bad("TIDYHOOKS_TEMPORAL_SHARDS", "want a whole number from 1 to 1024")
	}
	return append(errs, c.checkTexts(m, vars)...)
}

// checkTexts returns what is wrong with c's addresses, names, URLs and
// keys.
func (c *Config) checkTexts(m mode, vars map[string]string) []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s=%q: "+format, append([]any{name, vars[name]}, args...)...))
	}
	dev := m == modeDev
	for _, a := range []struct{ name, addr string }{
		{"TIDYHOOKS_HTTP_ADDR", c.HTTPAddr}, {"TEMPORAL_ADDRESS", c.TemporalAddress}, {"TIDYHOOKS_METRICS_ADDR", c.MetricsAddr},
	} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: want host:port", a.name, a.addr))
		}
	}
	for i, p := range c.TrustedProxies {
		c.TrustedProxies[i] = strings.TrimSpace(p)
		if _, err := netip.ParsePrefix(c.TrustedProxies[i]); err != nil {
			if _, err := netip.ParseAddr(c.TrustedProxies[i]); err != nil {
				errs = append(errs, fmt.Errorf("TIDYHOOKS_TRUSTED_PROXIES: %q is not an IP address or CIDR such as 10.0.0.0/8", c.TrustedProxies[i]))
			}
		}
	}
	var err error
	if c.portalOrigins, err = models.ParseOrigins(c.PortalFrameAncestors); err != nil {
		bad("TIDYHOOKS_PORTAL_FRAME_ANCESTORS", "%v", err)
	}
	if c.portalTheme, err = models.ParsePortalTheme(c.PortalTheme); err != nil {
		errs = append(errs, fmt.Errorf("TIDYHOOKS_PORTAL_THEME: %w", err)) // not echoed: it may be long
	}
	if c.LogLevel != slog.LevelDebug && c.LogLevel != slog.LevelInfo && c.LogLevel != slog.LevelWarn && c.LogLevel != slog.LevelError {
		bad("TIDYHOOKS_LOG_LEVEL", "want debug, info, warn or error")
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		bad("TIDYHOOKS_LOG_FORMAT", "want json or text")
	}
	if u := c.TemporalUIURL; u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		bad("TIDYHOOKS_TEMPORAL_UI_URL", "want an http(s) URL")
	}
	if u := c.PublicURL; u != "" {
		if o := models.Origin(u); o == "" || !strings.EqualFold(o, strings.TrimRight(u, "/")) {
			bad("TIDYHOOKS_PUBLIC_URL", "want the origin browsers reach the API at, such as https://hooks.example.com")
		} else if _, err := models.ParseOrigins(u); err != nil {
			bad("TIDYHOOKS_PUBLIC_URL", "want the origin browsers reach the API at, such as https://hooks.example.com")
		}
	}
	if t := c.MetricsToken; t != "" && (len(t) < 16 || strings.ContainsAny(t, " \t\r\n")) {
		errs = append(errs, errors.New("TIDYHOOKS_METRICS_TOKEN: want at least 16 characters and no spaces")) // not echoed: a secret
	}
	if u := c.TemporalDatabaseURL; u != "" && !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		errs = append(errs, errors.New("TIDYHOOKS_TEMPORAL_DATABASE_URL: want postgres://user@host:port/database"))
	}
	if c.DevKey != "" && (!strings.HasPrefix(c.DevKey, "tsk_") || len(c.DevKey) < 20) {
		errs = append(errs, errors.New("TIDYHOOKS_DEV_KEY: want tsk_ followed by at least 16 characters"))
	}
	if vars["TIDYHOOKS_ENCRYPTION_KEY"] != "" && vars["TIDYHOOKS_ENCRYPTION_KEYS"] != "" {
		errs = append(errs, errors.New("TIDYHOOKS_ENCRYPTION_KEY and TIDYHOOKS_ENCRYPTION_KEYS are both set: set one (KEYS lists the sealing key first, then the keys being rotated out)"))
	}
	if c.EncryptionKey == nil && c.EncryptionKeys == nil && !dev && m != modeMigrate && vars["TIDYHOOKS_ENCRYPTION_KEY"] == "" && vars["TIDYHOOKS_ENCRYPTION_KEYS"] == "" {
		errs = append(errs, fmt.Errorf("TIDYHOOKS_ENCRYPTION_KEY is required: base64 of %d random bytes (openssl rand -base64 %d); it encrypts webhook secrets at rest", store.KeySize, store.KeySize))
	}
	return errs
}

// parseCIDRs reads comma-separated CIDRs, each masked to its prefix.
func parseCIDRs(raw string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(raw, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8", strings.TrimSpace(part))
		}
		out = append(out, p.Masked())
	}
	return out, nil
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
