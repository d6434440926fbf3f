package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"

	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/tidysupport/tidyhooks/api"
	"github.com/tidysupport/tidyhooks/emitter"
	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/store"
	"github.com/tidysupport/tidyhooks/temporalserver"
	"github.com/tidysupport/tidyhooks/worker"
)

// devFlags applies dev's flags over the environment's values.
func devFlags(cfg *Config, opts *devOptions, name string, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("tidyhooks "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.HTTPAddr, "http-addr", cfg.HTTPAddr, "address of the API and dashboard")
	fs.IntVar(&cfg.TemporalPort, "temporal-port", cfg.TemporalPort, "port of the embedded Temporal server; it uses the seven after it too (at most 32760)")
	fs.IntVar(&cfg.UIPort, "ui-port", cfg.UIPort, "port of the Temporal Web UI")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory for all data")
	fs.BoolVar(&opts.temporalOnly, "temporal-only", false, "run only the embedded Temporal server and its UI, for `tidyhooks api` and `tidyhooks worker` processes")
	fs.StringVar(&opts.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("dev: unexpected arguments %q", fs.Args())
	}
	if _, _, err := net.SplitHostPort(cfg.HTTPAddr); err != nil {
		return fmt.Errorf("--http-addr %q: want host:port", cfg.HTTPAddr)
	}
	if cfg.TemporalPort < 1 || cfg.TemporalPort > 32760 {
		return fmt.Errorf("--temporal-port %d: want 1 to 32760 (Temporal also uses the seven ports after it)", cfg.TemporalPort)
	}
	if cfg.UIPort < 1 || cfg.UIPort > 65535 {
		return fmt.Errorf("--ui-port %d: want 1 to 65535", cfg.UIPort)
	}
	if cfg.DataDir == "" {
		return errors.New("--data-dir must not be empty")
	}
	return nil
}

// devIdentity is the demo workspace and its key, kept in the data dir so a
// restart prints the same ones.
type devIdentity struct {
	Workspace string `json:"workspace"`
	APIKey    string `json:"apiKey"`
}

func ensureDevIdentity(ctx context.Context, st *store.Store, dir, fixedKey string) (devIdentity, error) {
	path := filepath.Join(dir, "dev.json")
	var id devIdentity
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &id); err != nil {
			return id, fmt.Errorf("read %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return id, err
	}
	if id.Workspace == "" {
		id.Workspace = "wrk_demo"
	}
	if fixedKey != "" {
		id.APIKey = fixedKey
	}
	if id.APIKey == "" {
		v, err := store.NewKeyValue()
		if err != nil {
			return id, err
		}
		id.APIKey = v
	}
	if _, err := st.APIKeyByValue(ctx, id.APIKey); errors.Is(err, models.ErrNotFound) {
		key := models.APIKey{WorkspaceID: id.Workspace, Scopes: []string{models.ScopeAPIUser, models.ScopeEventsWrite}}
		if _, err := st.CreateAPIKey(ctx, key, id.APIKey, "dev"); err != nil {
			return id, err
		}
	} else if err != nil {
		return id, err
	}
	b, _ := json.MarshalIndent(id, "", "  ")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return id, fmt.Errorf("write %s: %w", path, err)
	}
	return id, nil
}

// devOptions are dev's flags beyond the configuration.
type devOptions struct {
	// cpuProfile, when set, is where a CPU profile of the run is written.
	cpuProfile string
	// temporalOnly runs the embedded Temporal server (and its UI) alone:
	// the production topology on one machine, with api and worker
	// processes of their own.
	temporalOnly bool
}

// devEncryptionKey returns the data dir's key for webhook secrets, making
// it on first use.
func devEncryptionKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, "encryption.key")
	if b, err := os.ReadFile(path); err == nil {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(key) != store.KeySize {
			return nil, fmt.Errorf("%s does not hold base64 of %d bytes", path, store.KeySize)
		}
		return key, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key := make([]byte, store.KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return key, nil
}

// runDev runs everything in one process.
// ownerOnly makes path a file only its owner reads and writes, creating
// it empty if it is not there.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	defer f.Close()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	return nil
}

func runDev(ctx context.Context, cfg Config, logger *slog.Logger, stdout io.Writer, opts devOptions) error {
	stopProfile, err := startCPUProfile(opts.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	// The database holds sealed secrets and the event log: readable by
	// its owner only, as the key beside it is (SQLite gives its journal
	// files the database's mode; the embedded server does the same for
	// its own).
	if err := ownerOnly(filepath.Join(dir, "tidyhooks.db")); err != nil {
		return err
	}
	var l net.Listener
	if !opts.temporalOnly {
		if l, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return fmt.Errorf("listen on --http-addr: %w", err)
		}
		defer l.Close()
	}
	tsrv, err := startDevTemporal(ctx, cfg, dir, logger)
	if err != nil {
		return err
	}
	defer tsrv.Stop()
	if opts.temporalOnly {
		fmt.Fprintf(stdout, "Temporal server is running (dev mode, no API or worker). Ctrl-C stops it.\n\n  Temporal:          %s\n  Temporal UI:       %s\n  Data:              %s\n",
			tsrv.HostPort(), tsrv.UIURL(), dir)
		logger.Info("temporal server ready", "temporal", tsrv.HostPort(), "temporal_ui", tsrv.UIURL())
		<-ctx.Done()
		return nil
	}

	// The processes' own set-up, on the data dir's database and key and
	// the embedded server.
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = "sqlite:" + filepath.Join(dir, "tidyhooks.db")
	}
	if cfg.EncryptionKey == nil && cfg.EncryptionKeys == nil {
		if cfg.EncryptionKey, err = devEncryptionKey(dir); err != nil {
			return err
		}
	}
	cfg.TemporalAddress = tsrv.HostPort()
	if cfg.TemporalUIURL == "" {
		cfg.TemporalUIURL = tsrv.UIURL()
	}
	p, err := openProcess(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer p.st.Close()
	id, err := ensureDevIdentity(ctx, p.st, dir, cfg.DevKey)
	if err != nil {
		return err
	}
	c, err := client.DialContext(ctx, p.temporal)
	if err != nil {
		return fmt.Errorf("connect to embedded temporal: %w", err)
	}
	defer c.Close()
	w, metrics, err := startWorker(ctx, cfg, p, c, logger)
	if err != nil {
		return err
	}
	defer w.Stop()
	// The worker shares this client, so new workflows start eagerly on it.
	em := emitter.New(p.st, c, emitter.Options{MaxPayloadBytes: cfg.MaxPayloadBytes, EagerStart: true, MaxConcurrentStarts: cfg.MaxConcurrentStarts})
	p.reg.MustRegister(em.Collector())
	srv := api.NewHTTPServer(cfg.HTTPAddr, api.New(p.st, em, apiConfig(cfg, c), logger, p.reg).Handler(p.reg))

	apiURL := "http://" + l.Addr().String()
	fmt.Fprintf(stdout, devBanner, apiURL, apiURL, tsrv.HostPort(), tsrv.UIURL(), dir, id.Workspace, id.APIKey, apiURL, id.APIKey, apiURL, id.APIKey)
	logger.Info("dev mode ready", "api", apiURL, "temporal", tsrv.HostPort(), "temporal_ui", tsrv.UIURL())
	g, ctx := errgroup.WithContext(ctx)
	runMaintenance(ctx, g, cfg, p.st, c, metrics, logger)
	g.Go(func() error { return serveHTTP(ctx, srv, l, cfg.ShutdownTimeout) })
	return g.Wait()
}

// startDevTemporal starts dev's embedded Temporal server in dir, or on
// TIDYHOOKS_TEMPORAL_DATABASE_URL.
func startDevTemporal(ctx context.Context, cfg Config, dir string, logger *slog.Logger) (*temporalserver.Server, error) {
	return temporalserver.Start(ctx, temporalserver.Config{
		DataDir:          filepath.Join(dir, "temporal"),
		PostgresURL:      cfg.TemporalDatabaseURL,
		HistoryShards:    int32(cfg.TemporalShards),
		FrontendPort:     cfg.TemporalPort,
		UIPort:           cfg.UIPort,
		Namespace:        cfg.TemporalNamespace,
		SearchAttributes: worker.SearchAttributes(),
		Logger:           logger,
	})
}

// devBanner is what dev prints once it is ready.
const devBanner = `TidySupport Webhooks is running (dev mode). Ctrl-C stops it.

  API:               %s
  Dashboard:         %s/dashboard/ (sign in with the API key below)
  Temporal:          %s
  Temporal UI:       %s
  Data:              %s

Workspace: %s
API key: %s

Try it (start a receiver first: tidyhooks receive --addr 127.0.0.1:9000):
  curl -s -X POST %s/v1/webhooks -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
    -d '{"url": "http://127.0.0.1:9000/hook", "events": ["conversation.*"]}'
  curl -s -X POST %s/v1/events -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
    -d '{"event": "conversation.created", "payload": {"conversation": {"id": "cnv_abc123"}}}'
`

// startCPUProfile profiles the process into path until the returned
// function is called; with no path it does nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
