package integration_test

import (
	"cmp"
	"context"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/tidysupport/tidyhooks/activities"
	"github.com/tidysupport/tidyhooks/api"
	"github.com/tidysupport/tidyhooks/emitter"
	"github.com/tidysupport/tidyhooks/internal/testenv"
	"github.com/tidysupport/tidyhooks/internal/testtemporal"
	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/netguard"
	"github.com/tidysupport/tidyhooks/store"
	tidyworker "github.com/tidysupport/tidyhooks/worker"
	"github.com/tidysupport/tidyhooks/workflows"
)

// One embedded Temporal server for the whole package; each test gets its
// own database, task queue, worker and API.
var temporalHostPort string

func TestMain(m *testing.M) {
	flag.Parse()
	gin.SetMode(gin.TestMode) // no debug listing of routes for each stack
	srv := testtemporal.Start()
	temporalHostPort = srv.HostPort()
	code := m.Run()
	_ = srv.Stop()
	// After a run of every test, every documented operation has been
	// answered and checked against openapi.json.
	if code == 0 && flag.Lookup("test.run").Value.String() == "" {
		if err := checkOpenAPICoverage(); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			code = 1
		}
	}
	os.Exit(code)
}

type stackOptions struct {
	schedule        []time.Duration
	maxPayloadBytes int
	maxWebhooks     int
	eager           bool
	rateLimit       float64
	network         *netguard.Policy
	pauseAfter      time.Duration
	noAnnouncer     bool // leave webhook.paused events to the sweep
	portalOrigins   []string
	portalTheme     *models.PortalTheme
	// backend is "postgres" (the default) or "sqlite".
	backend string
	// afterSend runs between each attempt's request and its record.
	afterSend func(ctx context.Context, in activities.DeliverInput)
	// wrapStore, when set, wraps the store the activities use (faults).
	wrapStore func(activities.Store) activities.Store
	observer  activities.Observer
	// rootCAs are the authorities deliveries trust (TLS receivers).
	rootCAs *x509.CertPool
	// timeout bounds each request of an attempt (activities.DefaultTimeout).
	timeout time.Duration
}

// stacks numbers the stacks of this test binary.
var stacks atomic.Int64

// stack is one deployment under test.
type stack struct {
	t          *testing.T
	store      *store.Store
	dbURL      string // the store's database
	client     client.Client
	acts       *activities.Activities
	actsConfig activities.Config
	taskQueue  string
	worker     worker.Worker
	api        *httptest.Server
	keyA       string // workspace wrk_a: manage and emit
	keyB       string // workspace wrk_b: manage and emit
	platform   string // no workspace: emit only
	emitOnlyA  string // wrk_a: emit only
}

func newStack(t *testing.T, opts stackOptions) *stack {
	t.Helper()
	ctx := context.Background()
	dbURL := testenv.DatabaseURL(t, cmp.Or(opts.backend, "postgres"))
	st, err := store.Open(ctx, dbURL, store.Options{EncryptionKey: testenv.EncryptionKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	c, err := client.Dial(client.Options{HostPort: temporalHostPort, Namespace: "default", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if opts.schedule == nil {
		opts.schedule = []time.Duration{200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond}
	}
	// A queue per stack: a test may run several, each with its database.
	s := &stack{t: t, store: st, dbURL: dbURL, client: c, taskQueue: fmt.Sprintf("tq-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), stacks.Add(1))}
	network := netguard.Policy{AllowLoopback: true}
	if opts.network != nil {
		network = *opts.network
	}
	s.actsConfig = activities.Config{Retry: models.RetryPolicy{Schedule: opts.schedule}, Network: network, UserAgent: "TidySupport-Webhooks/test", PauseAfter: opts.pauseAfter, AfterSend: opts.afterSend, Observer: opts.observer, RootCAs: opts.rootCAs, Signaler: c, Timeout: opts.timeout}
	if !opts.noAnnouncer {
		s.actsConfig.Announcer = emitter.New(st, c, emitter.Options{TaskQueue: s.taskQueue})
	}
	var actStore activities.Store = st
	if opts.wrapStore != nil {
		actStore = opts.wrapStore(st)
	}
	s.acts = activities.New(actStore, s.actsConfig)
	s.startWorker()
	em := emitter.New(st, c, emitter.Options{MaxPayloadBytes: opts.maxPayloadBytes, EagerStart: opts.eager, TaskQueue: s.taskQueue})
	reg := prometheus.NewRegistry()
	srv := api.New(st, em, api.Config{URLPolicy: models.URLPolicy{AllowHTTP: true}, MaxPayloadBytes: opts.maxPayloadBytes, MaxWebhooks: opts.maxWebhooks, RateLimit: cmp.Or(opts.rateLimit, -1), TemporalUIURL: "http://ui.test/", Namespace: "default", PortalOrigins: opts.portalOrigins, PortalTheme: opts.portalTheme}, slog.New(slog.DiscardHandler), reg)
	s.api = httptest.NewServer(srv.Handler(reg))
	t.Cleanup(s.api.Close)
	s.keyA = s.newKey("wrk_a", models.ScopeAPIUser, models.ScopeEventsWrite)
	s.keyB = s.newKey("wrk_b", models.ScopeAPIUser, models.ScopeEventsWrite)
	s.platform = s.newKey("", models.ScopeEventsWrite)
	s.emitOnlyA = s.newKey("wrk_a", models.ScopeEventsWrite)
	return s
}

func (s *stack) startWorker() {
	s.t.Helper()
	s.worker = tidyworker.New(s.client, s.acts, tidyworker.Options{TaskQueue: s.taskQueue})
	if err := s.worker.Start(); err != nil {
		s.t.Fatal(err)
	}
	w := s.worker
	s.t.Cleanup(w.Stop)
}

func (s *stack) newKey(ws string, scopes ...string) string {
	s.t.Helper()
	v, err := store.NewKeyValue()
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.store.CreateAPIKey(context.Background(), models.APIKey{WorkspaceID: ws, Scopes: scopes}, v, "test"); err != nil {
		s.t.Fatal(err)
	}
	return v
}

// do sends a request to the API and decodes the JSON answer.
func (s *stack) do(method, path, key, body string) (int, map[string]any) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.api.URL+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	validateAnswer(s.t, req, resp.StatusCode, resp.Header, raw)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			s.t.Fatalf("%s %s: answer is not JSON: %s", method, path, raw)
		}
	}
	return resp.StatusCode, out
}

// webhook creates a webhook and returns its id and secret.
func (s *stack) webhook(key, url string, events ...string) (string, string) {
	s.t.Helper()
	b, _ := json.Marshal(map[string]any{"url": url, "events": events})
	code, out := s.do("POST", "/v1/webhooks", key, string(b))
	if code != http.StatusCreated {
		s.t.Fatalf("create webhook: %d %v", code, out)
	}
	return out["id"].(string), out["secret"].(string)
}

// emit emits an event and returns its id.
func (s *stack) emit(key, body string) string {
	s.t.Helper()
	code, out := s.do("POST", "/v1/events", key, body)
	if code != http.StatusAccepted {
		s.t.Fatalf("emit: %d %v", code, out)
	}
	return out["id"].(string)
}

// wait blocks until wrk_a's event's workflow completes and returns its
// result.
func (s *stack) wait(eventID string) workflows.DeliverEventResult {
	s.t.Helper()
	return s.waitIn("wrk_a", eventID)
}

// waitIn blocks until a workspace's event's workflow completes and returns
// its result.
func (s *stack) waitIn(workspaceID, eventID string) workflows.DeliverEventResult {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var res workflows.DeliverEventResult
	if err := s.client.GetWorkflow(ctx, workflows.EventWorkflowID(workspaceID, eventID), "").Get(ctx, &res); err != nil {
		s.t.Fatalf("workflow of %s in %s: %v", eventID, workspaceID, err)
	}
	return res
}

// delivery is one request a receiver got.
type delivery struct {
	header http.Header
	body   []byte
}

// receiver is a real HTTP endpoint recording what it gets; answer decides
// the status of the nth request.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []delivery
	answer func(n int) int
}

func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	t.Helper()
	r := &receiver{answer: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, delivery{header: req.Header.Clone(), body: body})
		n := len(r.got)
		r.mu.Unlock()
		w.WriteHeader(r.answer(n))
	}))
	t.Cleanup(r.Close)
	return r
}

func ok(int) int { return http.StatusOK }

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// eventIDs counts requests per webhook-id.
func (r *receiver) eventIDs() map[string]int {
	out := map[string]int{}
	for _, d := range r.deliveries() {
		out[d.header.Get("webhook-id")]++
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !testenv.Eventually(time.Minute, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// quietLogger silences the SDK's client logs in tests.
func quietLogger() sdklog.Logger { return sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)) }
