package main

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/models"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

const testKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(modeDev, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:8080" || cfg.TemporalPort != 7233 || cfg.UIPort != 8233 || cfg.DataDir != ".tidyhooks" {
		t.Errorf("dev defaults = %+v", cfg)
	}
	if !cfg.AllowHTTP || !cfg.AllowLoopback {
		t.Error("dev mode must allow plain http and loopback")
	}
	if !slices.Equal(cfg.RetrySchedule, models.DefaultRetrySchedule) || cfg.DeliveryTimeout != 15*time.Second {
		t.Errorf("delivery defaults = %v, %s", cfg.RetrySchedule, cfg.DeliveryTimeout)
	}
	if cfg.LogRetention != 30*24*time.Hour {
		t.Errorf("log retention = %s, want 30 days", cfg.LogRetention)
	}
	// The shortest retention the default schedule allows: its ~75.6h with
	// +20 % jitter, and an hour.
	if got := (models.RetryPolicy{Schedule: models.DefaultRetrySchedule}).Horizon(); got != 92*time.Hour {
		t.Errorf("retry horizon of the default schedule = %s, want 92h", got)
	}
	prod, err := loadConfig(modeAPI, envOf(map[string]string{"DATABASE_URL": "postgres://x@y/z", "TIDYHOOKS_ENCRYPTION_KEY": testKey, "TIDYHOOKS_RETRY_SCHEDULE": "5s, 1m,30m"}))
	if err != nil {
		t.Fatal(err)
	}
	if prod.AllowHTTP || prod.AllowLoopback {
		t.Error("production must refuse plain http and loopback by default")
	}
	if want := []time.Duration{5 * time.Second, time.Minute, 30 * time.Minute}; !slices.Equal(prod.RetrySchedule, want) {
		t.Errorf("schedule = %v, want %v", prod.RetrySchedule, want)
	}
}

func TestLoadConfigRefusesBadValues(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		mode mode
		want string
	}{
		{"missing database", nil, modeAPI, "DATABASE_URL"},
		{"schedule not durations", map[string]string{"TIDYHOOKS_RETRY_SCHEDULE": "5s,often"}, modeDev, "TIDYHOOKS_RETRY_SCHEDULE"},
		{"schedule negative", map[string]string{"TIDYHOOKS_RETRY_SCHEDULE": "-5s"}, modeDev, "TIDYHOOKS_RETRY_SCHEDULE"},
		{"schedule too long a wait", map[string]string{"TIDYHOOKS_RETRY_SCHEDULE": "5s,72h"}, modeDev, "TIDYHOOKS_RETRY_SCHEDULE"},
		{"retention not a duration", map[string]string{"TIDYHOOKS_LOG_RETENTION": "a month"}, modeDev, "TIDYHOOKS_LOG_RETENTION"},
		{"retention shorter than the schedule", map[string]string{"TIDYHOOKS_LOG_RETENTION": "48h"}, modeDev, "TIDYHOOKS_LOG_RETENTION"},
		{"retention shorter than a custom schedule", map[string]string{"TIDYHOOKS_LOG_RETENTION": "2h", "TIDYHOOKS_RETRY_SCHEDULE": "1h,1h"}, modeDev, "TIDYHOOKS_LOG_RETENTION"},
		{"timeout", map[string]string{"TIDYHOOKS_DELIVERY_TIMEOUT": "soon"}, modeDev, "TIDYHOOKS_DELIVERY_TIMEOUT"},
		{"timeout too long", map[string]string{"TIDYHOOKS_DELIVERY_TIMEOUT": "5m"}, modeDev, "TIDYHOOKS_DELIVERY_TIMEOUT"},
		{"retry-after cap", map[string]string{"TIDYHOOKS_RETRY_AFTER_MAX": "0s"}, modeDev, "TIDYHOOKS_RETRY_AFTER_MAX"},
		{"payload limit", map[string]string{"TIDYHOOKS_MAX_PAYLOAD_BYTES": "12"}, modeDev, "TIDYHOOKS_MAX_PAYLOAD_BYTES"},
		{"boolean", map[string]string{"TIDYHOOKS_ALLOW_HTTP": "perhaps"}, modeDev, "TIDYHOOKS_ALLOW_HTTP"},
		{"cidr", map[string]string{"TIDYHOOKS_ALLOWED_CIDRS": "10.0.0.0/8,nonsense"}, modeDev, "TIDYHOOKS_ALLOWED_CIDRS"},
		{"log level", map[string]string{"TIDYHOOKS_LOG_LEVEL": "loud"}, modeDev, "TIDYHOOKS_LOG_LEVEL"},
		{"log format", map[string]string{"TIDYHOOKS_LOG_FORMAT": "xml"}, modeDev, "TIDYHOOKS_LOG_FORMAT"},
		{"http addr", map[string]string{"TIDYHOOKS_HTTP_ADDR": "8080"}, modeDev, "TIDYHOOKS_HTTP_ADDR"},
		{"temporal port", map[string]string{"TIDYHOOKS_TEMPORAL_PORT": "40000"}, modeDev, "TIDYHOOKS_TEMPORAL_PORT"},
		{"worker activities", map[string]string{"TIDYHOOKS_WORKER_ACTIVITIES": "0"}, modeDev, "TIDYHOOKS_WORKER_ACTIVITIES"},
		{"dev key", map[string]string{"TIDYHOOKS_DEV_KEY": "short"}, modeDev, "TIDYHOOKS_DEV_KEY"},
		{"public URL with a path", map[string]string{"TIDYHOOKS_PUBLIC_URL": "https://hooks.example.com/api"}, modeDev, "TIDYHOOKS_PUBLIC_URL"},
		{"public URL not http", map[string]string{"TIDYHOOKS_PUBLIC_URL": "ftp://hooks.example.com"}, modeDev, "TIDYHOOKS_PUBLIC_URL"},
		{"public URL splicing", map[string]string{"TIDYHOOKS_PUBLIC_URL": "https://a.example.com;x"}, modeDev, "TIDYHOOKS_PUBLIC_URL"},
		{"metrics token short", map[string]string{"TIDYHOOKS_METRICS_TOKEN": "short"}, modeDev, "TIDYHOOKS_METRICS_TOKEN"},
		{"more webhooks than an event can fan out to", map[string]string{"TIDYHOOKS_MAX_WEBHOOKS": "1001"}, modeDev, "TIDYHOOKS_MAX_WEBHOOKS"},
		{"trusted proxy", map[string]string{"TIDYHOOKS_TRUSTED_PROXIES": "10.0.0.1,proxy.internal"}, modeDev, "TIDYHOOKS_TRUSTED_PROXIES"},
		{"portal frame ancestor not an origin", map[string]string{"TIDYHOOKS_PORTAL_FRAME_ANCESTORS": "https://app.example.com ftp://files.example.com"}, modeDev, "TIDYHOOKS_PORTAL_FRAME_ANCESTORS"},
		{"portal frame ancestor with a path", map[string]string{"TIDYHOOKS_PORTAL_FRAME_ANCESTORS": "https://app.example.com/settings"}, modeDev, "TIDYHOOKS_PORTAL_FRAME_ANCESTORS"},
		{"portal theme not JSON", map[string]string{"TIDYHOOKS_PORTAL_THEME": "purple"}, modeDev, "TIDYHOOKS_PORTAL_THEME"},
		{"portal theme colour", map[string]string{"TIDYHOOKS_PORTAL_THEME": `{"accent": "purple"}`}, modeDev, "TIDYHOOKS_PORTAL_THEME: accent"},
		{"portal theme logo", map[string]string{"TIDYHOOKS_PORTAL_THEME": `{"logoUrl": "http://cdn.example.com/logo.png"}`}, modeDev, "TIDYHOOKS_PORTAL_THEME: logoUrl"},
		{"portal theme unknown field", map[string]string{"TIDYHOOKS_PORTAL_THEME": `{"font": "Comic Sans"}`}, modeDev, "TIDYHOOKS_PORTAL_THEME"},
		{"webhook in-flight cap", map[string]string{"TIDYHOOKS_WEBHOOK_MAX_IN_FLIGHT": "0"}, modeDev, "TIDYHOOKS_WEBHOOK_MAX_IN_FLIGHT"},
		{"shutdown timeout", map[string]string{"TIDYHOOKS_SHUTDOWN_TIMEOUT": "forever"}, modeDev, "TIDYHOOKS_SHUTDOWN_TIMEOUT"},
		{"migrate on start", map[string]string{"TIDYHOOKS_MIGRATE_ON_START": "maybe"}, modeDev, "TIDYHOOKS_MIGRATE_ON_START"},
		{"migrate without a database", nil, modeMigrate, "DATABASE_URL"},
		{"pool of none", map[string]string{"TIDYHOOKS_DB_MAX_CONNS": "0"}, modeDev, "TIDYHOOKS_DB_MAX_CONNS"},
		{"more idle than open", map[string]string{"TIDYHOOKS_DB_MAX_CONNS": "5", "TIDYHOOKS_DB_MAX_IDLE_CONNS": "6"}, modeDev, "TIDYHOOKS_DB_MAX_IDLE_CONNS"},
		{"connection lifetime", map[string]string{"TIDYHOOKS_DB_CONN_MAX_LIFETIME": "a while"}, modeDev, "TIDYHOOKS_DB_CONN_MAX_LIFETIME"},
		{"connection lifetime too long", map[string]string{"TIDYHOOKS_DB_CONN_MAX_LIFETIME": "48h"}, modeDev, "TIDYHOOKS_DB_CONN_MAX_LIFETIME"},
		{"temporal certificate unreadable", map[string]string{"DATABASE_URL": "postgres://x@y/z", "TEMPORAL_TLS_CLIENT_CERT_PATH": "/nonexistent/client.pem", "TEMPORAL_TLS_CLIENT_KEY_PATH": "/nonexistent/client.key"}, modeWorker, "TEMPORAL_TLS_CLIENT_CERT_PATH"},
		{"temporal CA unreadable", map[string]string{"DATABASE_URL": "postgres://x@y/z", "TEMPORAL_TLS_SERVER_CA_CERT_PATH": "/nonexistent/ca.pem"}, modeAPI, "TEMPORAL_TLS_SERVER_CA_CERT_PATH"},
		{"remote codec", map[string]string{"DATABASE_URL": "postgres://x@y/z", "TEMPORAL_CODEC_ENDPOINT": "https://codec.example.com"}, modeWorker, "TEMPORAL_CODEC_ENDPOINT"},
		{"temporal profile missing", map[string]string{"DATABASE_URL": "postgres://x@y/z", "TEMPORAL_PROFILE": "nope", "TEMPORAL_CONFIG_FILE": "/dev/null"}, modeAPI, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(tt.mode, envOf(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func TestRunRefusesBadCommandsAndFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no command", nil, nil, "usage"},
		{"unknown command", []string{"serve"}, nil, "unknown command"},
		{"unknown flag", []string{"dev", "--port", "1"}, nil, "flag provided but not defined"},
		{"temporal port out of range", []string{"dev", "--temporal-port", "40000"}, nil, "--temporal-port"},
		{"ui port out of range", []string{"dev", "--ui-port", "70000"}, nil, "--ui-port"},
		{"bad http addr", []string{"dev", "--http-addr", "nowhere"}, nil, "--http-addr"},
		{"empty data dir", []string{"dev", "--data-dir", ""}, nil, "--data-dir"},
		{"api with arguments", []string{"api", "extra"}, map[string]string{"DATABASE_URL": "postgres://x@y/z", "TIDYHOOKS_ENCRYPTION_KEY": testKey}, "no arguments"},
		{"api without encryption key", []string{"api"}, map[string]string{"DATABASE_URL": "postgres://x@y/z"}, "TIDYHOOKS_ENCRYPTION_KEY"},
		{"api with a short encryption key", []string{"api"}, map[string]string{"DATABASE_URL": "postgres://x@y/z", "TIDYHOOKS_ENCRYPTION_KEY": "c2hvcnQ="}, "TIDYHOOKS_ENCRYPTION_KEY"},
		{"api without database", []string{"api"}, nil, "DATABASE_URL"},
		{"worker with bad database URL", []string{"worker"}, map[string]string{"DATABASE_URL": "mysql://x", "TIDYHOOKS_ENCRYPTION_KEY": testKey}, "unsupported URL"},
		{"bad webhook limit", []string{"dev"}, map[string]string{"TIDYHOOKS_MAX_WEBHOOKS": "0"}, "TIDYHOOKS_MAX_WEBHOOKS"},
		{"bad rate limit", []string{"dev"}, map[string]string{"TIDYHOOKS_RATE_LIMIT": "fast"}, "TIDYHOOKS_RATE_LIMIT"},
		{"receive with bad secret", []string{"receive", "--secret", "nope"}, nil, "--secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, envOf(tt.env), &stdout, &stderr)
			if err == nil {
				t.Fatal("run succeeded, want an error")
			}
			if got := err.Error() + stderr.String(); !strings.Contains(got, tt.want) && !(tt.want == "usage" && errors.Is(err, errUsage)) {
				t.Errorf("error %q / stderr %q, want it to mention %q", err, stderr.String(), tt.want)
			}
		})
	}
}

// Bad values are all reported at once, in one order from one run to the
// next, each naming its variable; a wrong encryption key is named but not
// repeated.
func TestLoadConfigReportsEveryBadValueInOrder(t *testing.T) {
	env := envOf(map[string]string{
		"DATABASE_URL": "postgres://x@y/z", "TIDYHOOKS_ENCRYPTION_KEY": "c2VjcmV0LXZhbHVl",
		"TIDYHOOKS_MAX_WEBHOOKS": "many", "TIDYHOOKS_HTTP_ADDR": "nohost", "TIDYHOOKS_METRICS_ADDR": "nowhere",
		"TIDYHOOKS_ALLOWED_CIDRS": "10.0.0.0/8, 192.168.1.7/16",
	})
	_, err := loadConfig(modeWorker, env)
	if err == nil {
		t.Fatal("bad values accepted")
	}
	msg := err.Error()
	if strings.Contains(msg, "c2VjcmV0LXZhbHVl") {
		t.Errorf("the encryption key is repeated in the error: %s", msg)
	}
	var at []int
	for _, name := range []string{"TIDYHOOKS_ENCRYPTION_KEY", "TIDYHOOKS_MAX_WEBHOOKS", "TIDYHOOKS_HTTP_ADDR", "TIDYHOOKS_METRICS_ADDR"} {
		i := strings.Index(msg, name)
		if i < 0 {
			t.Errorf("error does not name %s: %s", name, msg)
		}
		at = append(at, i)
	}
	if !slices.IsSorted(at[1:]) {
		t.Errorf("errors out of the fields' order: %s", msg)
	}
	for range 5 {
		if _, again := loadConfig(modeWorker, env); again.Error() != msg {
			t.Fatalf("a second read reports otherwise:\n%s\n%s", again, msg)
		}
	}
	// Spaces around list items are allowed, and CIDRs are masked.
	cfg, err := loadConfig(modeDev, envOf(map[string]string{"TIDYHOOKS_ALLOWED_CIDRS": "10.0.0.0/8, 192.168.1.7/16"}))
	if err != nil || len(cfg.AllowedCIDRs) != 2 || cfg.AllowedCIDRs[1].String() != "192.168.0.0/16" {
		t.Errorf("CIDRs = %v (err %v)", cfg.AllowedCIDRs, err)
	}
}
