// Command tidyhooks runs TidySupport Webhooks: `dev` (everything in one
// process), `api` and `worker` (the production processes), `migrate`
// (database migrations), `keys` (API keys), `receive` (a local endpoint
// that prints and verifies what it gets) and `probe` (container health
// checks). main only wires; run can be called end to end by a test. The
// benchmark is a command of its own, cmd/tidyhooks-bench.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/gin-gonic/gin"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	// Gin's mode is process-wide: release mode, without its debug listing
	// of routes at start.
	gin.SetMode(gin.ReleaseMode)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, errHelp) {
		return
	}
	if err != nil && !errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "tidyhooks:", err)
	}
	if err != nil {
		os.Exit(1)
	}
}

var (
	// errUsage is bad usage, already explained to the user (exit 1).
	errUsage = errors.New("usage")
	// errHelp is help asked for and shown (exit 0).
	errHelp = errors.New("help shown")
)

// parseError is what a command returns when its flags do not parse:
// errHelp for -h or --help, whose text the flag set has printed.
func parseError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return errHelp
	}
	return errUsage
}

// processHelp is `tidyhooks api --help` and `tidyhooks worker --help`.
const processHelp = `usage: tidyhooks %s

%s

It takes no flags: it is configured by environment variables (DATABASE_URL,
TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TIDYHOOKS_ENCRYPTION_KEY and the
TIDYHOOKS_* settings), each listed in the README's configuration table.
`

const usage = `usage: tidyhooks <command> [flags]

commands:
  dev       run everything in one process: embedded Temporal and its UI,
            SQLite, the API and a worker
  api       run the HTTP API (production; needs DATABASE_URL and Temporal)
  worker    run a delivery worker (production; needs DATABASE_URL and Temporal)
  migrate   apply pending database migrations and exit (a deployment step)
  rekey     re-seal stored secrets with the first encryption key (rotation)
  receive   run a local endpoint that prints and verifies deliveries
  keys      create, list and revoke API keys
  probe     GET a URL and exit 0 on a 2xx (container health checks)
  version   print the version

Configuration is read from the environment; see README.md.
`

// run executes one command until ctx is done or it fails.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "version", "--version":
		fmt.Fprintln(stdout, "tidyhooks", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "receive":
		return runReceive(ctx, rest, stdout, stderr)
	case "keys":
		return runKeys(ctx, rest, getenv, stdout, stderr)
	case "probe":
		return runProbe(ctx, rest)
	case "migrate":
		return runMigrate(ctx, rest, getenv, stdout, stderr)
	case "rekey":
		return runRekey(ctx, rest, getenv, stdout, stderr)
	case "dev", "api", "worker":
	default:
		fmt.Fprintf(stderr, "tidyhooks: unknown command %q\n\n%s", cmd, usage)
		return errUsage
	}
	if (cmd == "api" || cmd == "worker") && len(rest) == 1 && isHelp(rest[0]) {
		what := map[string]string{
			"api":    "Runs the HTTP API and the dashboard (production), against PostgreSQL and a Temporal cluster.",
			"worker": "Runs a delivery worker (production), against PostgreSQL and a Temporal cluster; run any number.",
		}[cmd]
		fmt.Fprintf(stdout, processHelp, cmd, what)
		return errHelp
	}
	if cmd == "dev" && slices.ContainsFunc(rest, isHelp) {
		// The flags' help with their defaults, before the environment is
		// read: a bad variable does not stand in the way of help.
		c, _ := loadConfig(modeDev, func(string) string { return "" })
		return devFlags(&c, &devOptions{}, cmd, []string{"-h"}, stdout)
	}
	m := mode(cmd)
	cfg, err := loadConfig(m, getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	var dev devOptions
	if m == modeDev {
		if err := devFlags(&cfg, &dev, cmd, rest, stderr); err != nil {
			return err
		}
	} else if len(rest) > 0 {
		return fmt.Errorf("%s takes no arguments (configure it with environment variables): %q", cmd, rest)
	}
	logger := newLogger(cfg, stderr)
	switch m {
	case modeDev:
		return runDev(ctx, cfg, logger, stdout, dev)
	case modeAPI:
		return runAPI(ctx, cfg, logger)
	default:
		return runWorker(ctx, cfg, logger)
	}
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
