// Package temporalserver runs a Temporal server, and optionally its Web UI,
// inside this process: the all-in-one dev mode and the tests use it. All
// wiring against go.temporal.io/server and the UI server lives here, so that
// upgrading them touches this package only. Nothing else in the module may
// import go.temporal.io/server.
package temporalserver

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/metrics"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives/timestamp"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"

	"github.com/tidysupport/tidyhooks/internal/freeport"
)

// Config describes the embedded server.
type Config struct {
	// DataDir holds the SQLite files; "" keeps everything in memory.
	DataDir string
	// PostgresURL, when set, persists to PostgreSQL instead of SQLite: the
	// database it names and one with the suffix _visibility, created and
	// migrated as needed. For a one-box deployment that outgrows SQLite.
	PostgresURL string
	// HistoryShards is the number of history shards; default 1 on SQLite
	// and 4 on PostgreSQL. It cannot change once a database is created.
	HistoryShards int32
	// IP the frontend and UI listen on; default 127.0.0.1.
	IP string
	// FrontendPort is the gRPC port clients dial; 0 picks a free one.
	FrontendPort int
	// UIPort serves the Temporal Web UI; 0 picks a free one, -1 disables it.
	UIPort int
	// Namespace is created on start, with SearchAttributes registered.
	Namespace        string
	SearchAttributes map[string]enumspb.IndexedValueType
	// Retention of closed workflows; default 7 days.
	Retention time.Duration
	// Logger receives the server's warnings and errors.
	Logger *slog.Logger
	// TLS, when set, makes the frontend serve TLS (the UI cannot reach
	// it: set UIPort to -1).
	TLS *TLS
}

// TLS is the frontend's TLS, all in PEM: its certificate and key; with
// ClientCA, a client certificate signed by it is required, and the
// server's own system workers connect with Worker (a certificate and key
// ClientCA signed). RootCA signed the frontend's certificate, for the
// name ServerName.
type TLS struct {
	CertPEM, KeyPEM             []byte
	ClientCAPEM                 []byte
	WorkerCertPEM, WorkerKeyPEM []byte
	RootCAPEM                   []byte
	ServerName                  string
}

// rootTLS is the server's TLS configuration for t; its PEM goes as base64,
// as the server's config takes it.
func rootTLS(t *TLS) config.RootTLS {
	if t == nil {
		return config.RootTLS{}
	}
	b64 := base64.StdEncoding.EncodeToString
	client := config.ClientTLS{ServerName: t.ServerName, RootCAData: []string{b64(t.RootCAPEM)}}
	server := config.ServerTLS{CertData: b64(t.CertPEM), KeyData: b64(t.KeyPEM)}
	if len(t.ClientCAPEM) > 0 {
		server.ClientCAData, server.RequireClientAuth = []string{b64(t.ClientCAPEM)}, true
	}
	return config.RootTLS{
		Frontend:     config.GroupTLS{Server: server, Client: client},
		SystemWorker: config.WorkerTLS{CertData: b64(t.WorkerCertPEM), KeyData: b64(t.WorkerKeyPEM), Client: client},
	}
}

// Server is a running embedded Temporal server.
type Server struct {
	server   temporal.Server
	ui       *uiserver.Server
	hostPort string
	uiURL    string
	quiet    *atomic.Bool
}

// Start starts the server and returns once its frontend accepts clients.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.IP == "" {
		cfg.IP = "127.0.0.1"
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	if cfg.Retention == 0 {
		cfg.Retention = 7 * 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ports, err := servicePorts(cfg)
	if err != nil {
		return nil, err
	}
	cfg.FrontendPort = ports[0]
	quiet := new(atomic.Bool)
	primary, visibility, shards, err := persistence(cfg)
	if err != nil {
		return nil, err
	}
	hostPort := net.JoinHostPort(cfg.IP, strconv.Itoa(cfg.FrontendPort))
	srv, err := temporal.NewServer(
		temporal.WithConfig(serverConfig(cfg, ports, hostPort, primary, visibility, shards)),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithLogger(newLogger(cfg.Logger, quiet)),
		temporal.WithDynamicConfigClient(dynamicConfig()),
	)
	if err != nil {
		return nil, fmt.Errorf("create temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("start temporal server: %w", err)
	}
	s := &Server{server: srv, hostPort: hostPort, quiet: quiet}
	if err := waitForPort(ctx, hostPort); err != nil {
		_ = srv.Stop()
		return nil, err
	}
	if cfg.UIPort >= 0 {
		if err := s.startUI(cfg); err != nil {
			_ = srv.Stop()
			return nil, err
		}
	}
	return s, nil
}

// persistence returns the server's primary and visibility stores and its
// history shards: SQLite files in cfg.DataDir (their schema set up on first
// use), SQLite in memory without one, or cfg.PostgresURL's databases; and
// the namespace, created in the primary store if it is missing.
func persistence(cfg Config) (primary, visibility *config.SQL, shards int32, err error) {
	primary, visibility = sqliteStore(cfg.DataDir, "temporal.db"), sqliteStore(cfg.DataDir, "temporal-visibility.db")
	shards = cfg.HistoryShards
	if cfg.PostgresURL != "" {
		if primary, visibility, err = postgresStores(cfg.PostgresURL); err != nil {
			return nil, nil, 0, err
		}
		if shards == 0 {
			shards = 4
		}
	} else if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, nil, 0, fmt.Errorf("create temporal data dir: %w", err)
		}
		for _, s := range []*config.SQL{primary, visibility} {
			if _, err := os.Stat(s.DatabaseName); errors.Is(err, os.ErrNotExist) {
				if err := sqliteschema.SetupSchema(s); err != nil {
					return nil, nil, 0, fmt.Errorf("set up temporal schema in %s: %w", s.DatabaseName, err)
				}
			}
			// Histories hold payloads: the owner's only (SQLite gives
			// the journal files the database's mode).
			if err := os.Chmod(s.DatabaseName, 0o600); err != nil {
				return nil, nil, 0, fmt.Errorf("temporal data dir: %w", err)
			}
		}
		if err := trimVisibilityIndexes(visibility.DatabaseName); err != nil {
			return nil, nil, 0, err
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig("active", cfg.Namespace, false, cfg.SearchAttributes)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("namespace config: %w", err)
	}
	ns.Detail.Config.Retention = timestamp.DurationPtr(cfg.Retention)
	if err := sqliteschema.CreateNamespaces(primary, ns); err != nil {
		return nil, nil, 0, fmt.Errorf("create namespace %s: %w", cfg.Namespace, err)
	}
	return primary, visibility, max(shards, 1), nil
}

// serverConfig is the single-process cluster: every service on ip, each
// on its own pair of ports (gRPC, membership), metrics on the last.
func serverConfig(cfg Config, ports []int, hostPort string, primary, visibility *config.SQL, shards int32) *config.Config {
	service := func(grpc, membership int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: grpc, MembershipPort: membership, BindOnIP: cfg.IP}}
	}
	return &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: cfg.IP},
			TLS:        rootTLS(cfg.TLS),
			Metrics: &metrics.Config{Prometheus: &metrics.PrometheusConfig{
				ListenAddress: net.JoinHostPort(cfg.IP, strconv.Itoa(ports[8])), HandlerPath: "/metrics",
			}},
		},
		Persistence: config.Persistence{
			DefaultStore:     "primary",
			VisibilityStore:  "visibility",
			NumHistoryShards: shards,
			DataStores: map[string]config.DataStore{
				"primary":    {SQL: primary},
				"visibility": {SQL: visibility},
			},
		},
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        "active",
			CurrentClusterName:       "active",
			ClusterInformation: map[string]cluster.ClusterInformation{
				"active": {Enabled: true, InitialFailoverVersion: 1, RPCAddress: hostPort},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services: map[string]config.Service{
			"frontend": service(ports[0], ports[4]),
			"history":  service(ports[1], ports[5]),
			"matching": service(ports[2], ports[6]),
			"worker":   service(ports[3], ports[7]),
		},
		PublicClient: config.PublicClient{HostPort: hostPort},
	}
}

// unusedVisibilityIndexes are the SQLite visibility schema's indexes that
// no query of this product or of the Temporal UI uses. The schema indexes
// every predefined search-attribute slot, 58 in all, and every workflow's
// start and close updates each one: a quarter of dev's CPU went there.
// Kept: default_idx (the UI's list, newest first), by_workflow_id,
// by_workflow_type and by_status (the UI's filters), by_parent_workflow_id
// and by_root_workflow_id (a workflow's children), the worker-deployment
// ones (versioning), and by_keyword_01 … 10 (TidyWorkspace, TidyEvent and
// TidyOutcome land in three of those slots, which the server assigns at
// random when it creates the namespace). Keyword lists (TidyWebhooks)
// are matched through the schema's FTS table, which stays.
var unusedVisibilityIndexes = []string{
	"by_execution_time", "by_history_length", "by_history_size_bytes", "by_execution_duration",
	"by_state_transition_count", "by_task_queue", "by_parent_run_id", "by_root_run_id",
	"by_batcher_user", "by_temporal_scheduled_start_time", "by_temporal_scheduled_by_id",
	"by_temporal_schedule_paused", "by_temporal_namespace_division", "by_temporal_pause_info",
	"by_bool_01", "by_bool_02", "by_bool_03", "by_datetime_01", "by_datetime_02", "by_datetime_03",
	"by_double_01", "by_double_02", "by_double_03", "by_int_01", "by_int_02", "by_int_03",
	"by_temporal_bool_01", "by_temporal_bool_02", "by_temporal_datetime_01", "by_temporal_datetime_02",
	"by_temporal_double_01", "by_temporal_double_02", "by_temporal_int_01", "by_temporal_int_02",
	"by_temporal_keyword_01", "by_temporal_keyword_02", "by_temporal_keyword_03", "by_temporal_keyword_04",
	"by_temporal_low_cardinality_keyword_01",
}

// trimVisibilityIndexes drops unusedVisibilityIndexes from the SQLite
// visibility database at path, at every start (so that a data dir made
// before is trimmed too); dropping what is gone does nothing.
func trimVisibilityIndexes(path string) error {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return fmt.Errorf("open temporal visibility %s: %w", path, err)
	}
	defer db.Close()
	for _, name := range unusedVisibilityIndexes {
		if _, err := db.Exec("DROP INDEX IF EXISTS " + name); err != nil {
			return fmt.Errorf("trim temporal visibility indexes in %s: %w", path, err)
		}
	}
	return nil
}

func sqliteStore(dir, file string) *config.SQL {
	if dir == "" {
		return &config.SQL{
			PluginName:        sqliteplugin.PluginName,
			DatabaseName:      fmt.Sprintf("%s-%d", file, time.Now().UnixNano()),
			ConnectAttributes: map[string]string{"mode": "memory", "cache": "shared"},
		}
	}
	// WAL with synchronous=normal: durable across a process crash, and
	// several times faster than the default rollback journal.
	return &config.SQL{
		PluginName:        sqliteplugin.PluginName,
		DatabaseName:      filepath.Join(dir, file),
		ConnectAttributes: map[string]string{"mode": "rwc", "journal_mode": "wal", "synchronous": "normal", "busy_timeout": "10000"},
	}
}

func (s *Server) startUI(cfg Config) error {
	port := cfg.UIPort
	if port == 0 {
		p, err := anyPorts(cfg.IP, 1)
		if err != nil {
			return err
		}
		port = p[0]
	} else if err := checkPortFree(cfg.IP, port); err != nil {
		// The UI server exits the process when it cannot listen; check first.
		return fmt.Errorf("temporal UI port: %w", err)
	}
	uiCfg := &uiconfig.Config{
		Host:                cfg.IP,
		Port:                port,
		TemporalGRPCAddress: s.hostPort,
		EnableUI:            true,
		DefaultNamespace:    cfg.Namespace,
		HideLogs:            true,
		DisableNewsFetch:    true,
		CORS:                uiconfig.CORS{CookieInsecure: true},
	}
	s.ui = uiserver.NewServer(uioptions.WithConfigProvider(staticUIConfig{uiCfg}))
	go func() { _ = s.ui.Start() }() // returns when Stop closes it
	s.uiURL = "http://" + net.JoinHostPort(cfg.IP, strconv.Itoa(port))
	return waitForPort(context.Background(), net.JoinHostPort(cfg.IP, strconv.Itoa(port)))
}

type staticUIConfig struct{ cfg *uiconfig.Config }

func (c staticUIConfig) GetConfig() (*uiconfig.Config, error) { return c.cfg, nil }

// HostPort is the frontend address clients dial.
func (s *Server) HostPort() string { return s.hostPort }

// UIURL is the Web UI's base URL, "" when it is disabled.
func (s *Server) UIURL() string { return s.uiURL }

// Stop stops the UI and the server.
func (s *Server) Stop() error {
	s.quiet.Store(true)
	if s.ui != nil {
		s.ui.Stop()
	}
	return s.server.Stop()
}

// servicePorts returns the gRPC ports of frontend, history, matching and
// worker, their four membership ports, and the metrics port. A persistent
// server uses the same ports on every start: its cluster-membership table
// then names live hosts after a restart instead of routing to the dead
// ones of the previous run until they expire. They are the frontend port
// and the next three, and the four after those for membership.
func servicePorts(cfg Config) ([]int, error) {
	if (cfg.DataDir == "" && cfg.PostgresURL == "") || cfg.FrontendPort == 0 {
		pick := anyPorts
		if cfg.PostgresURL != "" {
			pick = freePorts
		}
		ports, err := pick(cfg.IP, 9)
		if err != nil {
			return nil, err
		}
		if cfg.FrontendPort != 0 {
			ports[0] = cfg.FrontendPort
		}
		return ports, nil
	}
	if cfg.FrontendPort+7 > 32767 {
		return nil, fmt.Errorf("temporal port %d: it and the seven ports after it must be at most 32767", cfg.FrontendPort)
	}
	ports := make([]int, 0, 9)
	for p := cfg.FrontendPort; p < cfg.FrontendPort+8; p++ {
		if err := checkPortFree(cfg.IP, p); err != nil {
			return nil, fmt.Errorf("temporal needs ports %d-%d: %w", cfg.FrontendPort, cfg.FrontendPort+7, err)
		}
		ports = append(ports, p)
	}
	metricsPort, err := anyPorts(cfg.IP, 1)
	if err != nil {
		return nil, err
	}
	return append(ports, metricsPort[0]), nil
}

// freePorts returns n distinct ports free on ip, all below 32768: Temporal's
// SQL cluster-membership table stores ports as SMALLINT. Only PostgreSQL
// persistence needs that; anyPorts serves the rest.
func freePorts(ip string, n int) ([]int, error) {
	first, err := freeport.Block(ip, n)
	if err != nil {
		return nil, err
	}
	out := make([]int, n)
	for i := range out {
		out[i] = first + i
	}
	return out, nil
}

// anyPorts returns n distinct ports the system picks free on ip. They come
// from its ephemeral range, away from the fixed ports of a dev server.
func anyPorts(ip string, n int) ([]int, error) {
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	out := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		listeners = append(listeners, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

func checkPortFree(ip string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("%s:%d is not free: %w", ip, port, err)
	}
	return l.Close()
}

func waitForPort(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return c.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// dynamicConfig is the embedded server's dynamic configuration.
func dynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		// Reading search attributes from the cache is what a single
		// in-process server wants; a forced refresh costs a query per call.
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): []dynamicconfig.ConstrainedValue{{Value: false}},
		// An embedded server makes no call of its own to the internet: the
		// periodic check for a newer server version is off.
		dynamicconfig.EnableServerVersionCheck.Key(): []dynamicconfig.ConstrainedValue{{Value: false}},
		// Tasks are handed out fairly between fairness keys (the
		// workspace of every delivery, workflows.Fairness), so that one
		// workspace's backlog does not delay another's deliveries.
		dynamicconfig.MatchingEnableFairness.Key(): []dynamicconfig.ConstrainedValue{{Value: true}},
		// New tasks go to one partition of each task queue: on one server
		// a task is then matched with a poller at once more often than when
		// spread over four, and starts outrunning deliveries backlog less
		// (BENCHMARKS.md, "What moved the production topology"). Pollers
		// still read all four default partitions, so tasks written to the
		// others by an earlier version are not stranded.
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): []dynamicconfig.ConstrainedValue{{Value: 1}},
	}
}
