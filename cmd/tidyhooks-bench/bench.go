package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to create bench databases
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/tidysupport/tidyhooks/bench"
	"github.com/tidysupport/tidyhooks/internal/freeport"
)

type benchFlags struct {
	setup, target, key, scenario, jsonPath, postgres string
	tidyhooks                                        string // the binary benchmarked
	cpuProfile                                       string
	events, batch, concurrency, workers              int
	rate                                             float64
	floor                                            bool
	idle                                             time.Duration
	// statements: the server at postgres preloads pg_stat_statements
	// (--postgres own), so each phase reads what it ran.
	statements bool
}

const benchHelp = `usage: tidyhooks-bench [flags]
       tidyhooks-bench floor --help

Measures TidySupport Webhooks end to end (BENCHMARKS.md): starts the stack
of --setup from the tidyhooks binary, or uses --target, and reports events
per second, latency and CPU beside the bare-Temporal floors. The processes
it starts inherit its environment, so TIDYHOOKS_* settings
(TIDYHOOKS_TEMPORAL_SHARDS, TIDYHOOKS_MAX_CONCURRENT_STARTS,
TIDYHOOKS_WORKER_ACTIVITIES, ...) apply to them.

`

// runBench is `tidyhooks-bench`: a load generator with its own loopback
// receivers, against a deployment given by URL and key or against a stack
// it starts itself from the tidyhooks binary (with the floors beside it).
func runBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f, cfg, err := parseBenchFlags(args, stderr)
	if err != nil {
		return err
	}
	rcv, err := bench.NewReceivers([]int{1})
	if err != nil {
		return err
	}
	defer rcv.Close()
	report := bench.Report{Setup: f.setup, Scenario: f.scenario, Events: f.events, Rate: f.rate, Batch: f.batch, Machine: machine(), StartedAt: time.Now().UTC()}
	runID := randomHex(4)
	if f.target == "" {
		report.Commit = binaryCommit(f.tidyhooks)
	}
	if f.postgres == ownPostgres && f.setup != "sqlite" && f.target == "" {
		stop, err := startOwnPostgres(ctx, &f, stderr)
		if err != nil {
			return err
		}
		defer stop()
		report.Postgres = "own (pg_stat_statements)"
	}

	if f.target != "" {
		report.Setup = "external " + f.target
		ph, err := bench.Run(ctx, bench.Target{BaseURL: f.target, Key: f.key}, rcv, cfg, runID)
		if err != nil {
			return err
		}
		report.Phases = append(report.Phases, ph)
		return finishBench(report, f.jsonPath, stdout)
	}

	// Each phase gets a fresh stack of the same setup, so that none runs
	// on a database another has filled.
	ph, history, err := benchPhase(ctx, f, getenv, stderr, runID, "", func(st *benchTarget) (bench.Phase, error) {
		return bench.Run(ctx, st.target(st.base), rcv, cfg, runID)
	})
	if err != nil {
		return err
	}
	report.Phases = append(report.Phases, ph)
	report.HistoryEvents = history
	// The floor has one ingest path, single events: it is compared only
	// with runs that use the same.
	if f.floor && (f.scenario == bench.ScenarioOne || f.scenario == bench.ScenarioDegraded) && f.batch <= 1 {
		if err := runFloors(ctx, f, getenv, stderr, rcv, cfg, runID, &report); err != nil {
			return err
		}
	}
	return finishBench(report, f.jsonPath, stdout)
}

// parseBenchFlags reads and checks the flags, and resolves the tidyhooks
// binary unless a running deployment is the target.
func parseBenchFlags(args []string, stderr io.Writer) (benchFlags, bench.Config, error) {
	var f benchFlags
	fs := flag.NewFlagSet("tidyhooks-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), benchHelp); fs.PrintDefaults() }
	fs.StringVar(&f.setup, "setup", "sqlite", "stack to start: sqlite (the dev mode), postgres (dev with embedded Temporal on PostgreSQL, 4 shards) or production (Temporal in its own process on PostgreSQL, one `tidyhooks api`, --workers `tidyhooks worker` processes)")
	fs.IntVar(&f.workers, "workers", 1, "worker processes for --setup production (1 to 16)")
	fs.StringVar(&f.target, "target", "", "base URL of a running deployment instead of starting one (needs --key)")
	fs.StringVar(&f.key, "key", "", "API key for --target: one workspace, api_user and events:write")
	fs.StringVar(&f.scenario, "scenario", "a", "a: one webhook per event; b: ten per event; c: as a with 10% refusing and 10% slow endpoints; t: as a with every webhook throttled far above the load (the throttle's cost); o: as a with every webhook ordering by conversation, 100 conversations (ordering's cost)")
	fs.IntVar(&f.events, "events", 2000, "events to emit")
	fs.Float64Var(&f.rate, "rate", 0, "events per second, open loop (0: as fast as accepted)")
	fs.IntVar(&f.batch, "batch", 0, "events per request through /v1/events/batch (0: one per POST /v1/events)")
	fs.IntVar(&f.concurrency, "concurrency", 32, "requests in flight when --rate is 0")
	fs.BoolVar(&f.floor, "floor", true, "also run the bare-Temporal floor (started stacks, scenarios a and c, without --batch)")
	fs.StringVar(&f.jsonPath, "json", "", "also write the report as JSON to this file")
	fs.DurationVar(&f.idle, "idle", 30*time.Second, "stop waiting for deliveries after this long without one")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the started stack to this file (go tool pprof)")
	fs.StringVar(&f.tidyhooks, "tidyhooks", "", "the tidyhooks binary to start (default: the one beside this binary, else tidyhooks on PATH)")
	fs.StringVar(&f.postgres, "postgres", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL server for --setup postgres and production (databases are created and dropped), or \"own\": a server of the bench's own on a free port, preloading pg_stat_statements so that each phase reports what PostgreSQL ran, by group (needs PostgreSQL's server programs; as root, a postgres user)")
	if err := fs.Parse(args); err != nil {
		return f, bench.Config{}, parseError(err)
	}
	cfg := bench.Config{Scenario: f.scenario, Events: f.events, Rate: f.rate, Batch: f.batch, Concurrency: f.concurrency, Idle: f.idle, Progress: stderr, ProgressLines: !isTerminal(stderr)}
	if err := cfg.Validate(); err != nil {
		return f, cfg, fmt.Errorf("bench: %w", err)
	}
	switch {
	case f.idle <= 0:
		return f, cfg, errors.New("bench: --idle must be positive")
	case f.target == "" && f.setup != "sqlite" && f.setup != "postgres" && f.setup != "production":
		return f, cfg, fmt.Errorf("bench: --setup %q: want sqlite, postgres or production", f.setup)
	case f.workers < 1 || f.workers > 16:
		return f, cfg, fmt.Errorf("bench: --workers %d: want 1 to 16", f.workers)
	case f.workers != 1 && f.setup != "production":
		return f, cfg, errors.New("bench: --workers goes with --setup production")
	case f.postgres == ownPostgres && (f.setup == "sqlite" || f.target != ""):
		return f, cfg, errors.New("bench: --postgres own goes with --setup postgres or production")
	case (f.target == "") != (f.key == ""):
		return f, cfg, errors.New("bench: --target and --key go together")
	}
	if f.target == "" {
		bin, err := tidyhooksBinary(f.tidyhooks)
		if err != nil {
			return f, cfg, err
		}
		f.tidyhooks = bin
	}
	return f, cfg, nil
}

// runFloors runs both floors, each on a fresh stack, and adds them to the
// report with ours against each.
func runFloors(ctx context.Context, f benchFlags, getenv func(string) string, stderr io.Writer, rcv *bench.Receivers, cfg bench.Config, runID string, report *bench.Report) error {
	ours := report.Phases[0].DeliveredPerSec
	for _, floor := range []struct{ name, query, suffix string }{{"floor", "", "f"}, {"floor-local", "?local=1", "l"}} {
		rcv.Reset()
		floorID := runID + floor.suffix
		fl, history, err := benchPhase(ctx, f, getenv, stderr, floorID, floor.name, func(st *benchTarget) (bench.Phase, error) {
			return bench.RunFloor(ctx, floor.name, st.target(st.base+"/floor/events"+floor.query), rcv, cfg, floorID)
		})
		if err != nil {
			return err
		}
		report.Phases = append(report.Phases, fl)
		ratio := 0.0
		if fl.DeliveredPerSec > 0 {
			ratio = ours / fl.DeliveredPerSec
		}
		if floor.suffix == "f" {
			report.FloorHistory, report.FloorRatio = history, ratio
		} else {
			report.LocalFloorHistory, report.LocalFloorRatio = history, ratio
		}
	}
	return nil
}

func finishBench(r bench.Report, jsonPath string, stdout io.Writer) error {
	r.WriteTable(stdout)
	if jsonPath != "" {
		b, _ := json.MarshalIndent(r, "", "  ")
		if err := os.WriteFile(jsonPath, b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", jsonPath, err)
		}
	}
	if !r.OK() {
		return errors.New("bench: some events were missing or refused")
	}
	return nil
}

// benchPhase starts a stack for ours (floor "") or a floor ("floor",
// "floor-local"), runs one phase on it, reads the history length of the
// run's event 2 (a healthy endpoint's in every scenario) and stops it.
func benchPhase(ctx context.Context, f benchFlags, getenv func(string) string, stderr io.Writer, runID, floorName string, phase func(*benchTarget) (bench.Phase, error)) (bench.Phase, int, error) {
	if f.cpuProfile != "" && floorName != "" {
		f.cpuProfile += "." + floorName
	}
	floor := floorName != ""
	var (
		st  *benchTarget
		err error
	)
	if f.setup == "production" {
		st, err = startProductionTarget(ctx, f, getenv, stderr, floor)
	} else {
		st, err = startDevTarget(ctx, f, getenv, stderr, floor)
	}
	if err != nil {
		return bench.Phase{}, 0, err
	}
	defer st.stop()
	ph, err := phase(st)
	if err != nil {
		return bench.Phase{}, 0, err
	}
	history := 0
	if c, err := client.Dial(client.Options{HostPort: st.temporal, Logger: silentLogger()}); err == nil {
		history = historyLength(ctx, c, fmt.Sprintf("evt_%s_%07d", runID, 2))
		c.Close()
	}
	return ph, history, nil
}

// historyLength counts the history events of the workflow whose id starts
// with the event id: an event's DeliverEvent workflow (the id and its
// workspace) or the floor's (the bare id).
func historyLength(ctx context.Context, c client.Client, eventID string) int {
	list, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowId STARTS_WITH %q", eventID), PageSize: 1,
	})
	if err != nil || len(list.Executions) == 0 {
		return 0
	}
	iter := c.GetWorkflowHistory(ctx, list.Executions[0].Execution.WorkflowId, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for iter.HasNext() {
		if _, err := iter.Next(); err != nil {
			return 0
		}
		n++
	}
	return n
}

// benchTarget is the stack of one phase: its child processes, in the dev
// or the production topology.
type benchTarget struct {
	procs []benchProc // in the order started
	// postmaster is the PostgreSQL server's, when it runs on this machine
	// (the postgres and production setups): measured as the "postgres" kind.
	postmaster int
	// statements reads pg_stat_statements for the phase's databases,
	// where the server preloads it.
	statements *bench.Statements
	base, key  string
	temporal   string
	ports      struct{ temporal, http, ui int }
	cleanup    []func()
}

// benchProc is one child process and its kind (api, worker, temporal, …).
type benchProc struct {
	kind string
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
}

// target is the phase's stack as the bench measures it, its API (or the
// floor's handler) at base.
func (b *benchTarget) target(base string) bench.Target {
	return bench.Target{BaseURL: base, Key: b.key, Processes: b.pids(), Postmaster: b.postmaster, Statements: b.statements}
}

// pids lists the processes by kind, for measuring.
func (b *benchTarget) pids() map[string][]int {
	out := map[string][]int{}
	for _, p := range b.procs {
		out[p.kind] = append(out[p.kind], p.cmd.Process.Pid)
	}
	return out
}

// stop interrupts the processes, the last started first, and runs the
// cleanups.
func (b *benchTarget) stop() {
	for i := len(b.procs) - 1; i >= 0; i-- {
		p := b.procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	for _, f := range b.cleanup {
		f()
	}
}

// startProc starts bin as a child process and waits until a line of its
// output matches ready (not at all when ready is nil). Its error lines go
// to stderr for as long as it runs; the rest is read and dropped.
func (b *benchTarget) startProc(ctx context.Context, kind, bin string, env []string, stderr io.Writer, ready *regexp.Regexp, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	cmd.Stderr = cmd.Stdout // both scanned for the ready line
	if err := cmd.Start(); err != nil {
		return "", err
	}
	p := benchProc{kind: kind, cmd: cmd, done: make(chan struct{})}
	b.procs = append(b.procs, p)
	matched := make(chan string, 1)
	if ready == nil {
		matched <- ""
	}
	var (
		mu   sync.Mutex
		last []string // its last lines, for the error if it exits first
	)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if ready != nil {
				if m := ready.FindStringSubmatch(line); m != nil {
					matched <- m[len(m)-1]
					ready = nil
				}
			}
			if strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, "level=ERROR") {
				fmt.Fprintln(stderr, kind+":", line)
			}
			mu.Lock()
			last = append(last[max(0, len(last)-19):], line)
			mu.Unlock()
		}
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	select {
	case m := <-matched:
		return m, nil
	case <-p.done:
		mu.Lock()
		defer mu.Unlock()
		return "", fmt.Errorf("bench: %s exited before it was ready:\n%s", kind, strings.Join(last, "\n"))
	case <-time.After(3 * time.Minute):
		return "", fmt.Errorf("bench: %s not ready within 3 minutes", kind)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// startDevTarget starts one phase's stack of the dev topology (--setup
// sqlite or postgres): `tidyhooks dev`, or for a floor the embedded
// Temporal server alone (`tidyhooks dev --temporal-only`) and one floor
// process that both starts workflows and runs them, so that they start
// eagerly as dev's do.
func startDevTarget(ctx context.Context, f benchFlags, getenv func(string) string, stderr io.Writer, floor bool) (_ *benchTarget, err error) {
	t, dir, err := newBenchTarget()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			t.stop() // what started, and the cleanups so far
		}
	}()
	httpPort, tport, uport := t.ports.http, t.ports.temporal, t.ports.ui
	t.key = "tsk_bench_" + randomHex(12)
	env := append(os.Environ(), "TIDYHOOKS_DEV_KEY="+t.key, "TIDYHOOKS_LOG_LEVEL=warn")
	if v := getenv("TIDYHOOKS_RETRY_SCHEDULE"); v == "" {
		env = append(env, "TIDYHOOKS_RETRY_SCHEDULE=5s,5m,30m,2h,5h,10h,14h,20h,24h")
	}
	if f.setup == "postgres" {
		app, temporal, err := t.databases(ctx, f)
		if err != nil {
			return nil, err
		}
		env = append(env, "DATABASE_URL="+app, "TIDYHOOKS_TEMPORAL_DATABASE_URL="+temporal)
		if getenv("TIDYHOOKS_TEMPORAL_SHARDS") == "" {
			env = append(env, "TIDYHOOKS_TEMPORAL_SHARDS=4")
		}
	}
	args := []string{"dev", "--data-dir", dir, "--http-addr", "127.0.0.1:" + strconv.Itoa(httpPort),
		"--temporal-port", strconv.Itoa(tport), "--ui-port", strconv.Itoa(uport)}
	if f.cpuProfile != "" {
		abs, err := filepath.Abs(f.cpuProfile)
		if err != nil {
			return nil, err
		}
		args = append(args, "--cpuprofile", abs)
	}
	if !floor {
		if _, err := t.startProc(ctx, "tidyhooks", f.tidyhooks, env, stderr, regexp.MustCompile(`^API key: `), args...); err != nil {
			return nil, err
		}
		fmt.Fprintf(stderr, "bench: %s stack up at %s (pid %d)\n", f.setup, t.base, t.procs[0].cmd.Process.Pid)
		return t, nil
	}
	if _, err := t.startProc(ctx, "temporal", f.tidyhooks, env, stderr, regexp.MustCompile(`Temporal server is running`),
		append(args, "--temporal-only")...); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if _, err := t.startProc(ctx, "floor", self, append(env, "TEMPORAL_ADDRESS="+t.temporal), stderr, regexp.MustCompile(`"msg":"floor running"`),
		"floor", "--work", "--http-addr", "127.0.0.1:"+strconv.Itoa(httpPort), "--max-starts", strconv.Itoa(devMaxStarts)); err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "bench: %s floor up at %s\n", f.setup, t.base)
	return t, nil
}

// newBenchTarget makes a phase's data directory (removed when the target
// stops) and picks its ports in one free block: Temporal's eight, the
// API's and the Temporal UI's.
func newBenchTarget() (*benchTarget, string, error) {
	dir, err := os.MkdirTemp("", "tidyhooks-bench")
	if err != nil {
		return nil, "", err
	}
	t := &benchTarget{cleanup: []func(){func() { _ = os.RemoveAll(dir) }}}
	first, err := benchPort(10)
	if err != nil {
		t.stop()
		return nil, "", err
	}
	t.ports.temporal, t.ports.http, t.ports.ui = first, first+8, first+9
	t.base = "http://127.0.0.1:" + strconv.Itoa(t.ports.http)
	t.temporal = "127.0.0.1:" + strconv.Itoa(t.ports.temporal)
	return t, dir, nil
}

// devMaxStarts is tidyhooks dev's default bound on workflow starts in
// flight (TIDYHOOKS_MAX_CONCURRENT_STARTS), which its floor keeps too.
const devMaxStarts = 4

// tidyhooksBinary resolves --tidyhooks: the path given, else tidyhooks
// beside this binary, else tidyhooks on PATH.
func tidyhooksBinary(given string) (string, error) {
	if given != "" {
		if info, err := os.Stat(given); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			return "", fmt.Errorf("bench: --tidyhooks %q: not an executable file", given)
		}
		return given, nil
	}
	if self, err := os.Executable(); err == nil {
		beside := filepath.Join(filepath.Dir(self), "tidyhooks")
		if info, err := os.Stat(beside); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
			return beside, nil
		}
	}
	path, err := exec.LookPath("tidyhooks")
	if err != nil {
		return "", errors.New("bench: no tidyhooks binary beside this one or on PATH: build it (go build -o bin/ ./cmd/...) or name it with --tidyhooks")
	}
	return path, nil
}

// databases creates fresh databases for the app and for Temporal on the
// server at f.postgres, dropped when the target stops, and returns their
// URLs. The server's postmaster is measured where it is local, and its
// pg_stat_statements read with f.statements.
func (t *benchTarget) databases(ctx context.Context, f benchFlags) (string, string, error) {
	admin, err := sql.Open("pgx", f.postgres)
	if err != nil {
		return "", "", err
	}
	name := "tidyhooks_bench_" + randomHex(4)
	names := []string{name, name + "_temporal", name + "_temporal_visibility"}
	t.cleanup = append(t.cleanup, func() {
		for _, n := range names {
			_, _ = admin.Exec("DROP DATABASE IF EXISTS " + n + " WITH (FORCE)")
		}
		_ = admin.Close()
	})
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", "", fmt.Errorf("create bench database on %s: %w", f.postgres, err)
	}
	u, err := url.Parse(f.postgres)
	if err != nil {
		return "", "", err
	}
	t.postmaster = localPostmaster(ctx, f.postgres)
	if f.statements {
		t.statements = &bench.Statements{DB: admin, Databases: map[string]string{"app": names[0], "temporal": names[1], "visibility": names[2]}}
	}
	u.Path = "/" + name
	app := u.String()
	u.Path = "/" + name + "_temporal"
	return app, u.String(), nil
}

// localPostmaster is the pid of the PostgreSQL server at url when it runs
// on this machine (a backend's parent, through /proc), else 0. Its CPU
// is then measured; the bench is all that should run on it.
func localPostmaster(ctx context.Context, url string) int {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return 0
	}
	defer db.Close()
	var backend int
	if err := db.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		return 0
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", backend))
	if err != nil {
		return 0 // not on this machine
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			pid, _ := strconv.Atoi(strings.TrimSpace(v))
			return pid
		}
	}
	return 0
}

// benchPort finds n consecutive free loopback ports below 32768.
func benchPort(n int) (int, error) { return freeport.Block("127.0.0.1", n) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// machine describes this computer for the report.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := regexp.MustCompile(`(?m)^model name\s*:\s*(.+)$`).FindSubmatch(b); m != nil {
			model = string(m[1])
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if m := regexp.MustCompile(`MemTotal:\s+(\d+) kB`).FindSubmatch(b); m != nil {
			kb, _ := strconv.Atoi(string(m[1]))
			mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%d cores (%s)%s, %s", runtime.NumCPU(), model, mem, runtime.Version())
}

// binaryCommit is the commit the tidyhooks binary was built from, as the Go
// toolchain stamped it (vcs.revision, "+dirty" when the tree had changes),
// or "unknown" for a build without it.
func binaryCommit(path string) string {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	switch {
	case rev == "":
		return "unknown"
	case dirty:
		return rev + "+dirty"
	}
	return rev
}

// silentLogger drops the SDK client's logs.
func silentLogger() sdklog.Logger { return sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)) }

// isTerminal reports whether w is a terminal, where a progress line may
// redraw itself.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
