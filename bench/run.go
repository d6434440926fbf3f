package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidysupport/tidyhooks/models"
)

// Scenarios.
const (
	ScenarioOne      = "a" // one webhook per event
	ScenarioTen      = "b" // ten webhooks per event
	ScenarioDegraded = "c" // as a, 10 % of endpoints refusing, 10 % slow
	// ScenarioThrottled is a with every webhook throttled far above the
	// load (1000/s, 64 under way): what the throttle's bookkeeping costs.
	ScenarioThrottled = "t"
	// ScenarioOrdered is a with every webhook ordering by conversation,
	// the events spread over orderedConversations conversations (twenty
	// each at 2000 events): what ordered delivery costs.
	ScenarioOrdered = "o"
)

// orderedConversations is how many conversations ScenarioOrdered's
// events belong to.
const orderedConversations = 100

// conversationOf is the conversation number of a scenario's event i.
func conversationOf(scenario string, i int) int {
	if scenario == ScenarioOrdered {
		return i % orderedConversations
	}
	return i
}

// The throttle of ScenarioThrottled's webhooks.
const (
	throttledPerSecond = 1000
	throttledInFlight  = 64
)

// endpoints is how many webhooks every scenario creates: one per event type
// of the catalog (a, c) or ten subscribed to everything (b).
const endpoints = 10

// Config is one run's load.
type Config struct {
	Scenario    string
	Events      int
	Rate        float64       // events per second, open loop; 0: as fast as accepted
	Batch       int           // events per request; 0 or 1: POST /v1/events
	Concurrency int           // requests in flight when Rate is 0
	Idle        time.Duration // give up waiting for deliveries after this long without progress
	Progress    io.Writer     // live progress; nil for none
	// ProgressLines writes progress as a line every 5 s instead of one
	// line redrawn with \r: for a file or a pipe (a CI log).
	ProgressLines bool
}

// Validate checks a Config.
func (c Config) Validate() error {
	switch {
	case !slices.Contains([]string{ScenarioOne, ScenarioTen, ScenarioDegraded, ScenarioThrottled, ScenarioOrdered}, c.Scenario):
		return fmt.Errorf("scenario %q: want a, b, c, t or o", c.Scenario)
	case c.Events < 1 || c.Events > 1_000_000:
		return fmt.Errorf("events %d: want 1 to 1000000", c.Events)
	case c.Rate < 0:
		return fmt.Errorf("rate %v: want 0 (as fast as accepted) or more", c.Rate)
	case c.Batch < 0 || c.Batch > 100:
		return fmt.Errorf("batch %d: want 0 to 100", c.Batch)
	case c.Concurrency < 1 || c.Concurrency > 1024:
		return fmt.Errorf("concurrency %d: want 1 to 1024", c.Concurrency)
	}
	return nil
}

// Target is the deployment under load.
type Target struct {
	BaseURL string // the API
	Key     string // a key bound to one workspace with api_user and events:write
	PID     int    // the service's process, to measure; 0 when not local
	// Processes, when the service is several processes, lists them by
	// kind ("api", "worker", "temporal"), to measure each kind.
	Processes map[string][]int
	// Postmaster, when the deployment's PostgreSQL runs on this machine,
	// is its postmaster: the phase measures the whole server as the kind
	// "postgres" (the bench's own phases are all that runs on it).
	Postmaster int
	// Statements, when the deployment's PostgreSQL preloads
	// pg_stat_statements, reads what it ran for the phase by group.
	Statements *Statements
}

// processes is what a phase measures: Processes, or PID as "tidyhooks".
func (t Target) processes() map[string][]int {
	if len(t.Processes) > 0 {
		return t.Processes
	}
	return map[string][]int{"tidyhooks": {t.PID}}
}

// Usage is what one kind of process used in a phase: CPU seconds, summed
// over its processes, and the sum of their peak resident sets.
type Usage struct {
	Processes  int     `json:"processes"`
	CPUSeconds float64 `json:"cpuSeconds"`
	PeakRSSMiB float64 `json:"peakRssMiB"`
}

// Phase is one measured run.
type Phase struct {
	Name            string             `json:"name"`
	Events          int                `json:"events"`
	Accepted        int                `json:"accepted"`
	Rejected        int                `json:"rejected"`
	AcceptedPerSec  float64            `json:"acceptedPerSec"`
	DeliveredPerSec float64            `json:"deliveredPerSec"`
	Latency         Latency            `json:"latency"`
	LatencyByClass  map[string]Latency `json:"latencyByClass"`
	CPUSeconds      float64            `json:"cpuSeconds"`
	PeakRSSMiB      float64            `json:"peakRssMiB"`
	// ByKind splits CPUSeconds and PeakRSSMiB by kind of process when the
	// service is several.
	ByKind map[string]Usage `json:"byKind,omitempty"`
	// Statements is what PostgreSQL ran for the phase, by group, where
	// the target reads pg_stat_statements.
	Statements map[string]StatementGroup `json:"statements,omitempty"`
	Wall       time.Duration             `json:"wall"`
	Reconciliation
}

// plan says which endpoint each webhook is and which pairs are expected.
type plan struct {
	webhooks   []string // id per endpoint
	behaviours []Behaviour
}

func behaviours(scenario string) []Behaviour {
	b := make([]Behaviour, endpoints)
	if scenario == ScenarioDegraded {
		b[0], b[1] = Refusing, Slow
	}
	return b
}

func className(b Behaviour) string {
	switch b {
	case Slow:
		return "slow"
	case Refusing:
		return "refusing"
	}
	return "healthy"
}

type apiClient struct {
	http *http.Client
	base string
	key  string
}

func newAPIClient(base, key string) *apiClient {
	return &apiClient{
		http: &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second}},
		base: strings.TrimRight(base, "/"),
		key:  key,
	}
}

func (c *apiClient) post(ctx context.Context, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// postAccepted posts body and wants 202 Accepted.
func (c *apiClient) postAccepted(ctx context.Context, path string, body []byte) error {
	code, out, err := c.post(ctx, path, body)
	if err != nil {
		return err
	}
	if code != http.StatusAccepted {
		return fmt.Errorf("%d %s", code, out)
	}
	return nil
}

// eventIDs names a run's events.
func eventIDs(runID string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("evt_%s_%07d", runID, i)
	}
	return ids
}

// setUp creates the scenario's webhooks.
func setUp(ctx context.Context, api *apiClient, rcv *Receivers, scenario string) (plan, error) {
	p := plan{behaviours: behaviours(scenario)}
	catalog := models.Catalog()
	for i := range endpoints {
		events := []string{"*"}
		if scenario != ScenarioTen {
			events = []string{catalog[i%len(catalog)].Name}
		}
		webhook := map[string]any{"url": rcv.URL(i, p.behaviours[i]), "displayName": fmt.Sprintf("bench %s %d", scenario, i), "events": events}
		switch scenario {
		case ScenarioThrottled:
			webhook["throttle"] = map[string]any{"maxPerSecond": throttledPerSecond, "maxInFlight": throttledInFlight}
		case ScenarioOrdered:
			webhook["ordering"] = "conversation"
		}
		body, _ := json.Marshal(webhook)
		code, out, err := api.post(ctx, "/v1/webhooks", body)
		if err != nil {
			return p, fmt.Errorf("create webhook: %w", err)
		}
		if code != http.StatusCreated {
			return p, fmt.Errorf("create webhook: %d %s", code, out)
		}
		var w struct{ ID string }
		if err := json.Unmarshal(out, &w); err != nil {
			return p, err
		}
		p.webhooks = append(p.webhooks, w.ID)
	}
	return p, nil
}

// eventBody is a realistic payload of a few hundred bytes.
func eventBody(id, typ string, i, conversation int) []byte {
	return fmt.Appendf(nil, `{"id":%q,"event":%q,"payload":{"conversation":{"id":"cnv_%08d","workspaceId":"wrk_bench","contactId":"cnt_%08d","subject":"Where is my order?","channel":"email","priority":"normal","tags":["billing","vip"]}}}`, id, typ, conversation, i)
}

// load sends events open-loop at a rate, or closed-loop as fast as they
// are accepted, and records when each was sent.
type load struct {
	cfg      Config
	send     func(ctx context.Context, ids []int) error
	emitted  []time.Time
	mu       sync.Mutex
	accepted atomic.Int64
	rejected atomic.Int64
	lastOK   atomic.Int64 // unix nanos of the last accepted answer
}

func (e *load) run(ctx context.Context) {
	batch := max(e.cfg.Batch, 1)
	var groups [][]int
	for i := 0; i < e.cfg.Events; i += batch {
		var g []int
		for j := i; j < min(i+batch, e.cfg.Events); j++ {
			g = append(g, j)
		}
		groups = append(groups, g)
	}
	do := func(g []int) {
		now := time.Now()
		e.mu.Lock()
		for _, i := range g {
			e.emitted[i] = now
		}
		e.mu.Unlock()
		if err := e.send(ctx, g); err != nil {
			e.rejected.Add(int64(len(g)))
			return
		}
		e.accepted.Add(int64(len(g)))
		e.lastOK.Store(time.Now().UnixNano())
	}
	var wg sync.WaitGroup
	if e.cfg.Rate > 0 {
		// Open loop: each request leaves at its time, whatever the
		// answers to earlier ones.
		start := time.Now()
		interval := time.Duration(float64(time.Second) * float64(batch) / e.cfg.Rate)
		inflight := make(chan struct{}, 2048)
		for k, g := range groups {
			due := start.Add(time.Duration(k) * interval)
			if d := time.Until(due); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
			inflight <- struct{}{}
			wg.Add(1)
			go func() { defer wg.Done(); defer func() { <-inflight }(); do(g) }()
		}
	} else {
		next := make(chan []int)
		for range e.cfg.Concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for g := range next {
					do(g)
				}
			}()
		}
		for _, g := range groups {
			select {
			case next <- g:
			case <-ctx.Done():
			}
		}
		close(next)
	}
	wg.Wait()
}

// Run creates the scenario's webhooks on t, emits cfg.Events events through
// the ingest API and waits until every deliverable pair arrived or
// deliveries stop progressing. rcv must be fresh for the run.
func Run(ctx context.Context, t Target, rcv *Receivers, cfg Config, runID string) (Phase, error) {
	if err := cfg.Validate(); err != nil {
		return Phase{}, err
	}
	api := newAPIClient(t.BaseURL, t.Key)
	p, err := setUp(ctx, api, rcv, cfg.Scenario)
	if err != nil {
		return Phase{}, err
	}
	catalog := models.Catalog()
	ids := eventIDs(runID, cfg.Events)
	typeOf := func(i int) string { return catalog[i%endpoints%len(catalog)].Name }
	e := &load{cfg: cfg, emitted: make([]time.Time, cfg.Events)}
	e.send = func(ctx context.Context, group []int) error {
		path, body := "/v1/events", []byte(nil)
		if len(group) == 1 && cfg.Batch <= 1 {
			body = eventBody(ids[group[0]], typeOf(group[0]), group[0], conversationOf(cfg.Scenario, group[0]))
		} else {
			path = "/v1/events/batch"
			parts := make([][]byte, len(group))
			for k, i := range group {
				parts[k] = eventBody(ids[i], typeOf(i), i, conversationOf(cfg.Scenario, i))
			}
			body = append(append([]byte(`{"events":[`), bytes.Join(parts, []byte(","))...), ']', '}')
		}
		return api.postAccepted(ctx, path, body)
	}
	expected := func() map[Pair]Expected {
		e.mu.Lock()
		defer e.mu.Unlock()
		out := make(map[Pair]Expected, cfg.Events)
		for i, id := range ids {
			targets := []int{i % endpoints}
			if cfg.Scenario == ScenarioTen {
				targets = []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
			}
			for _, w := range targets {
				b := p.behaviours[w]
				out[Pair{EventID: id, WebhookID: p.webhooks[w]}] = Expected{Emitted: e.emitted[i], Deliverable: b != Refusing, Class: className(b)}
			}
		}
		return out
	}
	return measure(ctx, "tidyhooks", t, rcv, cfg, e, expected)
}

// RunFloor emits the same events to the floor handler at t.BaseURL: the
// bare Temporal workflow posting the same body to the same endpoints.
func RunFloor(ctx context.Context, name string, t Target, rcv *Receivers, cfg Config, runID string) (Phase, error) {
	if err := cfg.Validate(); err != nil {
		return Phase{}, err
	}
	api := newAPIClient(t.BaseURL, "")
	bs := behaviours(cfg.Scenario)
	catalog := models.Catalog()
	ids := eventIDs(runID, cfg.Events)
	e := &load{cfg: cfg, emitted: make([]time.Time, cfg.Events)}
	e.cfg.Batch = 0 // the floor has no batch endpoint
	e.send = func(ctx context.Context, group []int) error {
		i := group[0]
		body := eventBody(ids[i], catalog[i%endpoints%len(catalog)].Name, i, i)
		body = append(body[:len(body)-1], fmt.Sprintf(`,"url":%q}`, rcv.URL(i%endpoints, bs[i%endpoints]))...)
		return api.postAccepted(ctx, "", body)
	}
	expected := func() map[Pair]Expected {
		e.mu.Lock()
		defer e.mu.Unlock()
		out := make(map[Pair]Expected, cfg.Events)
		for i, id := range ids {
			b := bs[i%endpoints]
			out[Pair{EventID: id, WebhookID: "floor"}] = Expected{Emitted: e.emitted[i], Deliverable: b != Refusing, Class: className(b)}
		}
		return out
	}
	return measure(ctx, name, t, rcv, cfg, e, expected)
}

// measure runs the load e on t and measures it: deliveries against
// expected, and what t's processes (and its PostgreSQL, where local)
// used.
func measure(ctx context.Context, name string, t Target, rcv *Receivers, cfg Config, e *load, expected func() map[Pair]Expected) (Phase, error) {
	procs, postmaster := t.processes(), t.Postmaster
	if t.Statements != nil {
		if err := t.Statements.Reset(ctx); err != nil {
			return Phase{}, err
		}
	}
	pg0 := serverCPU(postmaster)
	cpu0 := map[int]float64{}
	for _, pids := range procs {
		for _, pid := range pids {
			cpu0[pid], _ = cpuSeconds(pid)
			resetPeakRSS(pid)
		}
	}
	start := time.Now()
	done := make(chan struct{})
	go func() { e.run(ctx); close(done) }()

	want := 0
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var rec Reconciliation
	lastCount, lastProgress := -1, time.Now()
	var lastLine time.Time
	emitting := true
	for {
		select {
		case <-ctx.Done():
			return Phase{}, ctx.Err()
		case <-done:
			emitting = false
			done = nil
		case <-tick.C:
		}
		n := rcv.Count()
		if n != lastCount {
			lastCount, lastProgress = n, time.Now()
		}
		if want == 0 && !emitting {
			want = int(e.accepted.Load())
		}
		if cfg.Progress != nil && (!cfg.ProgressLines || time.Since(lastLine) >= 5*time.Second) {
			start, end := "\r", "   "
			if cfg.ProgressLines {
				start, end, lastLine = "", "\n", time.Now()
			}
			fmt.Fprintf(cfg.Progress, "%s[%s] %s emitted %d/%d  accepted %d  rejected %d  arrived %d%s", start, name, bar(n, cfg.Events, cfg.Scenario), e.accepted.Load()+e.rejected.Load(), cfg.Events, e.accepted.Load(), e.rejected.Load(), n, end)
		}
		if emitting {
			continue
		}
		rec = Reconcile(expected(), rcv.Arrivals())
		if rec.Missing == 0 || time.Since(lastProgress) > cfg.Idle {
			break
		}
	}
	if cfg.Progress != nil && !cfg.ProgressLines {
		fmt.Fprintln(cfg.Progress)
	}
	ph := Phase{
		Name:           name,
		Events:         cfg.Events,
		Accepted:       int(e.accepted.Load()),
		Rejected:       int(e.rejected.Load()),
		Reconciliation: rec,
		Wall:           time.Since(start),
		LatencyByClass: map[string]Latency{},
	}
	if last := e.lastOK.Load(); last > 0 {
		ph.AcceptedPerSec = float64(ph.Accepted) / time.Unix(0, last).Sub(start).Seconds()
	}
	if rec.Delivered > 0 && rec.Last.After(rec.First) {
		ph.DeliveredPerSec = float64(rec.Delivered) / rec.Last.Sub(rec.First).Seconds()
	}
	for class, ds := range rec.Latencies {
		ph.LatencyByClass[class] = Summarize(ds)
	}
	ph.Latency = ph.LatencyByClass["healthy"]
	ph.addUsage(procs, cpu0, len(procs) > 1 || postmaster != 0)
	if postmaster != 0 {
		u := Usage{CPUSeconds: serverCPU(postmaster) - pg0, Processes: len(childrenOf(postmaster)) + 1}
		if ph.ByKind == nil {
			ph.ByKind = map[string]Usage{}
		}
		ph.ByKind["postgres"] = u
		ph.CPUSeconds += u.CPUSeconds
	}
	if t.Statements != nil {
		st, err := t.Statements.Read(ctx, ph.Accepted)
		if err != nil {
			return Phase{}, err
		}
		ph.Statements = st
	}
	return ph, nil
}

// serverCPU is the CPU seconds a server of processes has used: the
// postmaster's own, its children's that it has reaped, and its live
// children's (a PostgreSQL backend that ended within the phase counts
// from its start, a slight overcount of a long-lived one).
func serverCPU(postmaster int) float64 {
	if postmaster == 0 {
		return 0
	}
	total, err := cpuSecondsWithReaped(postmaster)
	if err != nil {
		return 0
	}
	for _, pid := range childrenOf(postmaster) {
		if c, err := cpuSeconds(pid); err == nil {
			total += c
		}
	}
	return total
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(raw)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// addUsage adds the processes' CPU seconds since cpu0 and peak RSS to the
// phase, and with byKind to ByKind too.
func (ph *Phase) addUsage(procs map[string][]int, cpu0 map[int]float64, byKind bool) {
	for kind, pids := range procs {
		u := Usage{Processes: len(pids)}
		for _, pid := range pids {
			if cpu1, err := cpuSeconds(pid); err == nil {
				u.CPUSeconds += cpu1 - cpu0[pid]
			}
			rss, _ := peakRSSMiB(pid)
			u.PeakRSSMiB += rss
		}
		ph.CPUSeconds += u.CPUSeconds
		ph.PeakRSSMiB += u.PeakRSSMiB
		if byKind {
			if ph.ByKind == nil {
				ph.ByKind = map[string]Usage{}
			}
			ph.ByKind[kind] = u
		}
	}
}

func bar(n, events int, scenario string) string {
	total := events
	if scenario == ScenarioTen {
		total *= endpoints
	}
	const width = 20
	filled := min(width, width*n/max(total, 1))
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "]"
}

// cpuSeconds is the user plus system CPU time of process pid.
func cpuSeconds(pid int) (float64, error) {
	own, _, err := procTimes(pid)
	return own, err
}

// cpuSecondsWithReaped is cpuSeconds with that of pid's children it has
// waited for.
func cpuSecondsWithReaped(pid int) (float64, error) {
	own, reaped, err := procTimes(pid)
	return own + reaped, err
}

// procTimes reads pid's user plus system CPU seconds, its own and its
// reaped children's.
func procTimes(pid int) (own, reaped float64, err error) {
	if pid == 0 {
		return 0, 0, errors.New("no process")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// Fields after the command name, which is in parentheses.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 15 {
		return 0, 0, errors.New("short /proc stat")
	}
	var t [4]float64
	for i := range t {
		t[i], _ = strconv.ParseFloat(fields[11+i], 64) // utime, stime, cutime, cstime
	}
	return (t[0] + t[1]) / 100, (t[2] + t[3]) / 100, nil // USER_HZ is 100 on Linux
}

// peakRSSMiB is the high-water mark of pid's resident set.
func peakRSSMiB(pid int) (float64, error) {
	if pid == 0 {
		return 0, errors.New("no process")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024, nil
		}
	}
	return 0, errors.New("no VmHWM")
}

// resetPeakRSS starts a new high-water mark (Linux clear_refs 5).
func resetPeakRSS(pid int) {
	if pid != 0 {
		_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
	}
}
