package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/tidysupport/tidyhooks/internal/testenv"
	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/store"
	"github.com/tidysupport/tidyhooks/workflows"
)

// The model test: a seeded random sequence of what customers, the
// platform and the machine do, against the production topology (`tidyhooks
// api`, two `tidyhooks worker` processes, a Temporal server process and a
// PostgreSQL server of the test's own), and after it an oracle that reads
// only what the receivers got and what the API's delivery log says. Each
// round runs its operations on two fresh workspaces, quiesces (every
// receiver healthy, every webhook resumed, everything drained, every
// webhook recovered) and checks SPEC §4's promises:
//
//   - the ledger: every delivery in the log of a webhook that still exists
//     ends delivered (after the recover, nothing failed or skipped is
//     left behind: recover found it); every request a receiver accepted
//     is in the log; every (event, webhook) pair that surely matched (a
//     webhook created before the event, never changed after, subscribed
//     and passing its filter) is in the log and arrived;
//   - order: for a webhook taking conversations in order, the events its
//     scheduled attempts delivered arrived in emit order per conversation;
//   - duplicates: a pair is accepted by its receiver more often than the
//     log has delivered attempts only where an attempt is unknown (its
//     outcome lost with a worker), and by one at most;
//   - tenancy: no request reaches a webhook of another workspace than the
//     event's, nor one created after the event was accepted, and each
//     carries the event's payload as emitted;
//   - signatures: every request's signature is valid for a secret its
//     webhook had.
//
// On a violation it prints the seed and the shortest operation list it
// finds by dropping operations, and fails. TIDYHOOKS_MODEL_SEED replays a
// seed; TIDYHOOKS_MODEL_ROUNDS runs more rounds (default 3).
func TestModel(t *testing.T) {
	if testing.Short() {
		t.Skip("the model test runs real processes")
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("TIDYHOOKS_MODEL_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("TIDYHOOKS_MODEL_SEED=%q: not a number", v)
		}
		seed = n
	}
	rounds := 3
	if v := os.Getenv("TIDYHOOKS_MODEL_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("TIDYHOOKS_MODEL_ROUNDS=%q: want a positive number", v)
		}
		rounds = n
	}
	m := newModelWorld(t)
	t.Logf("model seed %d, %d rounds (replay with TIDYHOOKS_MODEL_SEED=%d)", seed, rounds, seed)
	var totals modelTotals
	began := time.Now()
	for r := range rounds {
		roundSeed := seed + uint64(r)
		ops := genModelOps(rand.New(rand.NewPCG(roundSeed, 0x7d1)), 24)
		res := m.round(ops)
		totals.add(res)
		if len(res.violations) == 0 {
			continue
		}
		t.Errorf("round %d (seed %d): %d violations, e.g.\n  %s", r, roundSeed, len(res.violations), strings.Join(res.violations[:min(8, len(res.violations))], "\n  "))
		shortest, found := m.shrink(ops, res.violations)
		t.Errorf("shortest failing operation list found (%d of %d operations), failing with\n  %s\nits operations:\n  %s\nreplay with TIDYHOOKS_MODEL_SEED=%d TIDYHOOKS_MODEL_ROUNDS=1",
			len(shortest), len(ops), strings.Join(found[:min(4, len(found))], "\n  "), strings.Join(describeOps(shortest), "\n  "), roundSeed)
		return
	}
	t.Logf("model: %d rounds, %d operations, %d faults, %d events accepted, %d pairs checked, %d requests, %d unknown attempts, violations: 0, in %s",
		rounds, totals.ops, totals.faults, totals.events, totals.pairs, totals.requests, totals.unknown, time.Since(began).Round(time.Second))
}

type modelTotals struct{ ops, faults, events, pairs, requests, unknown int }

func (t *modelTotals) add(r modelResult) {
	t.ops += r.ops
	t.faults += r.faults
	t.events += r.events
	t.pairs += r.pairs
	t.requests += r.requests
	t.unknown += r.unknown
}

// The operations a round draws from.
const (
	opEmit       = "emit"
	opBatch      = "batch"
	opRepeat     = "repeat"      // an accepted id, same payload: accepted once
	opRepeatDiff = "repeat-diff" // an accepted id, another payload: 409
	opCreate     = "create"
	opPatch      = "patch"
	opPause      = "pause"
	opResume     = "resume"
	opDelete     = "delete"
	opRotate     = "rotate"
	opRetry      = "retry"
	opRecover    = "recover"
	opReceiver   = "receiver" // change how a webhook's endpoint answers
	opMove       = "move"     // move a webhook's URL to the other origin, its credentials given again, removed or not
	opFault      = "fault"
)

// The first webhooks of every round, made before its operations: two of
// workspace a (every event, unordered and ordered) and one of workspace
// b. Operations change only how their endpoints answer (never 410), so
// that every pair they match is checked.
const modelAnchors = 3

type modelOp struct {
	Kind   string
	Hook   int          // the round's webhook, by index
	Events []modelEvent // emit, batch; repeat: the one repeated
	Body   string       // create, patch
	Mode   string       // receiver: ok, fail, hang, gone, throttle
	Fault  string       // kill-worker, restart-temporal, stop-postgres
	Dur    time.Duration
	Pick   int  // retry: which delivery of the log
	Dry    bool // recover
}

type modelEvent struct {
	WS      int // 0: workspace a, 1: b
	ID      string
	Type    string
	Payload string
}

// modelConversations include ids that are not ASCII, hold controls and
// bidirectional marks, or run to the longest ordering keys on.
var modelConversations = []string{"cnv_1", "cnv_2", "cnv_3", "cnv_é", "cnv_\u202e🎉\x01", strings.Repeat("ü", models.MaxConversationID/2)}

func genModelEvent(rng *rand.Rand, n int) modelEvent {
	ws := 0
	if rng.IntN(5) == 0 {
		ws = 1
	}
	tier := []string{"vip", "std"}[rng.IntN(2)]
	conv := jsonString(modelConversations[rng.IntN(len(modelConversations))])
	var typ, payload string
	switch rng.IntN(4) {
	case 0:
		typ, payload = "conversation.created", fmt.Sprintf(`{"conversation": {"id": %s, "tier": %q, "n": %d}}`, conv, tier, n)
	case 1:
		typ, payload = "conversation.updated", fmt.Sprintf(`{"conversation": {"id": %s, "tier": %q, "n": %d}}`, conv, tier, n)
	case 2:
		typ, payload = "message.received", fmt.Sprintf(`{"message": {"id": "msg_%d", "conversationId": %s, "n": %d}}`, n, conv, n)
	default:
		typ, payload = "contact.created", fmt.Sprintf(`{"contact": {"id": "cnt_%d", "tier": %q}}`, n, tier)
	}
	return modelEvent{WS: ws, ID: fmt.Sprintf("evt_m%d", n), Type: typ, Payload: payload}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func genModelWebhookBody(rng *rand.Rand) string {
	b := map[string]any{"events": [][]string{{"*"}, {"conversation.*"}, {"message.*", "CONTACT_CREATED"}, {"CONVERSATION_UPDATED"}}[rng.IntN(4)]}
	if rng.IntN(3) == 0 {
		b["events"] = []string{"conversation.*"}
		b["filter"] = map[string]any{"conversation.tier": "vip"}
	}
	if rng.IntN(3) == 0 {
		b["ordering"] = "conversation"
	}
	if rng.IntN(4) == 0 {
		b["throttle"] = map[string]any{"maxPerSecond": 20, "maxInFlight": 2}
	}
	if rng.IntN(4) == 0 {
		b["auth"] = map[string]any{"type": "basic", "username": "model", "password": "pw-" + strconv.Itoa(rng.IntN(100))}
	}
	if rng.IntN(4) == 0 {
		b["headers"] = map[string]any{"X-Model": strconv.Itoa(rng.IntN(100))}
	}
	raw, _ := json.Marshal(b)
	return string(raw)
}

func genModelPatch(rng *rand.Rand) string {
	var b map[string]any
	switch rng.IntN(6) {
	case 0:
		b = map[string]any{"events": []string{"*"}}
	case 1:
		b = map[string]any{"events": []string{"conversation.*"}, "filter": map[string]any{"conversation.tier": "vip"}}
	case 2:
		b = map[string]any{"ordering": []string{"conversation", "none"}[rng.IntN(2)]}
	case 3:
		b = map[string]any{"throttle": []any{nil, map[string]any{"maxInFlight": 1}}[rng.IntN(2)]}
	case 4:
		b = map[string]any{"auth": []any{nil, map[string]any{"type": "bearer", "token": "tok-" + strconv.Itoa(rng.IntN(100))}}[rng.IntN(2)]}
	default:
		b = map[string]any{"headers": map[string]any{"X-Model": []any{nil, "p"}[rng.IntN(2)]}}
	}
	raw, _ := json.Marshal(b)
	return string(raw)
}

// genModelOps draws n operations. Webhooks are named by their index in
// the round (the anchors first, then one per create in order); an
// operation on one that does not exist when it runs does nothing.
func genModelOps(rng *rand.Rand, n int) []modelOp {
	var ops []modelOp
	created := 0
	var emitted []modelEvent
	hook := func() int {
		if created == 0 || rng.IntN(3) == 0 {
			return rng.IntN(modelAnchors)
		}
		return modelAnchors + rng.IntN(created)
	}
	own := func() (int, bool) { // a webhook operations may change
		if created == 0 {
			return 0, false
		}
		return modelAnchors + rng.IntN(created), true
	}
	kinds := []struct {
		kind   string
		weight int
	}{{opEmit, 30}, {opBatch, 8}, {opRepeat, 3}, {opRepeatDiff, 3}, {opCreate, 8}, {opPatch, 7}, {opPause, 4}, {opResume, 4},
		{opDelete, 1}, {opRotate, 3}, {opRetry, 4}, {opRecover, 3}, {opReceiver, 10}, {opFault, 2}, {opMove, 3}}
	total := 0
	for _, k := range kinds {
		total += k.weight
	}
	for len(ops) < n {
		pick := rng.IntN(total)
		kind := ""
		for _, k := range kinds {
			if pick < k.weight {
				kind = k.kind
				break
			}
			pick -= k.weight
		}
		op := modelOp{Kind: kind}
		switch kind {
		case opEmit:
			op.Events = []modelEvent{genModelEvent(rng, len(emitted))}
		case opBatch:
			ws := rng.IntN(2)
			for range 2 + rng.IntN(4) {
				e := genModelEvent(rng, len(emitted)+len(op.Events))
				e.WS = ws
				op.Events = append(op.Events, e)
			}
		case opRepeat, opRepeatDiff:
			if len(emitted) == 0 {
				continue
			}
			e := emitted[rng.IntN(len(emitted))]
			if kind == opRepeatDiff {
				e.Payload = `{"contact": {"id": "cnt_other"}}`
				e.Type = "contact.created"
			}
			op.Events = []modelEvent{e}
		case opCreate:
			if created >= 6 {
				continue
			}
			op.Hook, op.Body = modelAnchors+created, genModelWebhookBody(rng)
			created++
		case opPatch:
			h, ok := own()
			if !ok {
				continue
			}
			op.Hook, op.Body = h, genModelPatch(rng)
		case opMove:
			h, ok := own()
			if !ok {
				continue
			}
			op.Hook, op.Mode, op.Pick = h, []string{"alone", "clear", "fresh"}[rng.IntN(3)], rng.IntN(100)
		case opPause, opResume, opDelete:
			h, ok := own()
			if !ok {
				continue
			}
			op.Hook = h
		case opRotate, opRetry, opRecover:
			op.Hook, op.Pick, op.Dry = hook(), rng.IntN(10), rng.IntN(3) == 0
		case opReceiver:
			op.Hook = hook()
			modes := []string{"ok", "ok", "fail", "hang", "throttle", "gone"}
			if op.Hook < modelAnchors {
				modes = modes[:5]
			}
			op.Mode = modes[rng.IntN(len(modes))]
		case opFault:
			op.Fault = []string{"kill-worker", "restart-temporal", "stop-postgres"}[rng.IntN(3)]
			op.Dur = time.Duration(5+rng.IntN(36)) * time.Second // 5–40 s
		}
		if op.Kind == opEmit || op.Kind == opBatch {
			emitted = append(emitted, op.Events...)
		}
		ops = append(ops, op)
	}
	return ops
}

func describeOps(ops []modelOp) []string {
	out := make([]string, len(ops))
	for i, op := range ops {
		s := op.Kind
		switch op.Kind {
		case opEmit, opBatch, opRepeat, opRepeatDiff:
			for _, e := range op.Events {
				s += fmt.Sprintf(" %s@ws%d %s %s", e.ID, e.WS, e.Type, e.Payload)
			}
		case opCreate, opPatch:
			s += fmt.Sprintf(" #%d %s", op.Hook, op.Body)
		case opReceiver:
			s += fmt.Sprintf(" #%d %s", op.Hook, op.Mode)
		case opFault:
			s += fmt.Sprintf(" %s %s", op.Fault, op.Dur)
		case opRetry:
			s += fmt.Sprintf(" #%d delivery %d", op.Hook, op.Pick)
		case opMove:
			s += fmt.Sprintf(" #%d credentials %s (%d)", op.Hook, op.Mode, op.Pick)
		case opRecover:
			s += fmt.Sprintf(" #%d dryRun=%v", op.Hook, op.Dry)
		default:
			s += fmt.Sprintf(" #%d", op.Hook)
		}
		out[i] = s
	}
	return out
}

// modelWorld is the topology every round runs on.
type modelWorld struct {
	t        *testing.T
	pg       *pgServer
	tp       *topology
	temporal *process
	tArgs    []string
	tc       client.Client
	platform string
	rcv      *modelReceiver
	rounds   int
}

func newModelWorld(t *testing.T) *modelWorld {
	t.Helper()
	pg := ownPostgres(t)
	tport, uport := freePort(t), freePort(t)
	tArgs := []string{"dev", "--temporal-only", "--temporal-port", strconv.Itoa(tport), "--ui-port", strconv.Itoa(uport), "--data-dir", t.TempDir()}
	temporal := start(t, nil, tArgs...)
	temporal.waitFor(t, `Temporal server is running`)
	tp := newTopology(t, pg.url(), "127.0.0.1:"+strconv.Itoa(tport),
		"TIDYHOOKS_RETRY_SCHEDULE=200ms,400ms,800ms", "TIDYHOOKS_DELIVERY_TIMEOUT=2s")
	tp.startWorker()
	tp.startWorker()
	tc, err := client.Dial(client.Options{HostPort: "127.0.0.1:" + strconv.Itoa(tport), Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	m := &modelWorld{t: t, pg: pg, tp: tp, temporal: temporal, tArgs: tArgs, tc: tc, rcv: newModelReceiver()}
	m.platform = m.key("", models.ScopeEventsWrite)
	srv := httptest.NewServer(m.rcv)
	t.Cleanup(srv.Close)
	m.rcv.base = srv.URL
	other := httptest.NewServer(m.rcv)
	t.Cleanup(other.Close)
	m.rcv.other = other.URL
	return m
}

// key makes an API key of a workspace ("" for a platform key).
func (m *modelWorld) key(ws string, scopes ...string) string {
	m.t.Helper()
	st, err := store.Open(context.Background(), m.pg.url(), store.Options{})
	if err != nil {
		m.t.Fatal(err)
	}
	defer st.Close()
	v, _ := store.NewKeyValue()
	if _, err := st.CreateAPIKey(context.Background(), models.APIKey{WorkspaceID: ws, Scopes: scopes}, v, "model"); err != nil {
		m.t.Fatal(err)
	}
	return v
}

// modelReceiver is every endpoint of every round: /<round>/<index>.
type modelReceiver struct {
	base     string
	other    string // the same endpoints on another origin, where webhooks move
	mu       sync.Mutex
	modes    map[string]string
	arrivals []modelArrival
}

type modelArrival struct {
	host      string // the origin's host:port
	path      string
	eventID   string
	webhookID string
	attempt   int
	code      int // what the endpoint answered (0: it hung until the client left)
	header    http.Header
	body      []byte
	at        time.Time
}

func newModelReceiver() *modelReceiver { return &modelReceiver{modes: map[string]string{}} }

func (r *modelReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body := make([]byte, 0, 512)
	buf := make([]byte, 4096)
	for {
		n, err := req.Body.Read(buf)
		body = append(body, buf[:n]...)
		if err != nil {
			break
		}
	}
	attempt, _ := strconv.Atoi(req.Header.Get("X-TidySupport-Attempt"))
	a := modelArrival{host: req.Host, path: req.URL.Path, eventID: req.Header.Get("webhook-id"), webhookID: req.Header.Get("X-TidySupport-Webhook-Id"),
		attempt: attempt, header: req.Header.Clone(), body: body, at: time.Now()}
	r.mu.Lock()
	mode := r.modes[req.URL.Path]
	r.mu.Unlock()
	switch mode {
	case "fail":
		a.code = http.StatusInternalServerError
	case "gone":
		a.code = http.StatusGone
	case "throttle":
		a.code = http.StatusTooManyRequests
		w.Header().Set("Retry-After", "1")
	case "hang":
		select {
		case <-req.Context().Done():
		case <-time.After(10 * time.Second):
		}
	default:
		a.code = http.StatusOK
	}
	r.mu.Lock()
	r.arrivals = append(r.arrivals, a)
	r.mu.Unlock()
	if a.code != 0 {
		w.WriteHeader(a.code)
	}
}

func (r *modelReceiver) setMode(path, mode string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.modes[path] = mode
}

func (r *modelReceiver) of(prefix string) []modelArrival {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []modelArrival
	for _, a := range r.arrivals {
		if strings.HasPrefix(a.path, prefix) {
			out = append(out, a)
		}
	}
	return out
}

// modelHook is one webhook of a round as the model knows it.
type modelHook struct {
	ws        int
	id        string
	path      string
	body      map[string]any // as created
	createdAt time.Time      // before the create was sent
	changed   bool           // patched, paused, resumed or deleted since
	deleted   bool
	secrets   []string
	// hosts are where the webhook's URL may point (two after a move whose
	// answer was lost); credentials are the Authorization and X-Model
	// values given for each host. A value may arrive only at a host it
	// was given for.
	hosts       []string
	credentials map[string]bool // host + "\x00" + value
}

// accepted is an event the API answered 202 for.
type modelAccepted struct {
	ev       modelEvent
	order    int       // its place in the order of 202s
	sent     time.Time // when its request was sent
	accepted time.Time // when its 202 came back
}

type modelResult struct {
	violations                                    []string
	ops, faults, events, pairs, requests, unknown int
}

// modelRound is one round's state.
type modelRound struct {
	m        *modelWorld
	tag      string
	ws       [2]string
	keys     [2]string
	hooks    []*modelHook
	accepted map[[2]string]*modelAccepted // (workspace index, event id)
	closed   map[[2]string]bool           // accepted events whose workflow has ended
	order    int
	began    time.Time
	res      modelResult
}

func (m *modelWorld) round(ops []modelOp) modelResult {
	m.rounds++
	r := &modelRound{m: m, tag: fmt.Sprintf("r%d", m.rounds), accepted: map[[2]string]*modelAccepted{}, closed: map[[2]string]bool{}, began: time.Now().Add(-time.Second)}
	for i := range r.ws {
		r.ws[i] = fmt.Sprintf("wrk_model_%d_%c", m.rounds, 'a'+i)
		r.keys[i] = m.key(r.ws[i], models.ScopeAPIUser, models.ScopeEventsWrite)
	}
	for i, a := range []struct {
		ws   int
		body string
	}{{0, `{"events": ["*"]}`}, {0, `{"events": ["*"], "ordering": "conversation"}`}, {1, `{"events": ["*"]}`}} {
		r.create(i, a.ws, a.body)
	}
	for _, op := range ops {
		r.apply(op)
		r.res.ops++
	}
	applied := time.Now()
	m.t.Logf("round %s: %d operations applied in %s; quiescing", r.tag, r.res.ops, applied.Sub(r.began).Round(time.Second))
	r.quiesce()
	quiesced := time.Now()
	r.check()
	m.t.Logf("round %s: %d operations (%d faults) in %s, quiesced in %s, %d events, %d pairs checked, %d requests, %d violations",
		r.tag, r.res.ops, r.res.faults, applied.Sub(r.began).Round(time.Second), quiesced.Sub(applied).Round(time.Second),
		r.res.events, r.res.pairs, r.res.requests, len(r.res.violations))
	return r.res
}

func (r *modelRound) violate(format string, args ...any) {
	r.res.violations = append(r.res.violations, fmt.Sprintf(format, args...))
}

func (r *modelRound) call(ws int, method, path, body string) (apiAnswer, map[string]any) {
	a := callAPI(r.m.tp.base, r.keys[ws], method, path, body)
	var out map[string]any
	_ = json.Unmarshal([]byte(a.body), &out)
	return a, out
}

func (r *modelRound) hook(i int) *modelHook {
	if i < len(r.hooks) && r.hooks[i] != nil && !r.hooks[i].deleted {
		return r.hooks[i]
	}
	return nil
}

func (r *modelRound) create(i, ws int, body string) {
	var b map[string]any
	_ = json.Unmarshal([]byte(body), &b)
	path := fmt.Sprintf("/%s/%d", r.tag, i)
	b["url"] = r.m.rcv.base + path
	raw, _ := json.Marshal(b)
	for len(r.hooks) <= i {
		r.hooks = append(r.hooks, nil)
	}
	h := &modelHook{ws: ws, path: path, body: b, createdAt: time.Now(), hosts: []string{hostOf(r.m.rcv.base)}, credentials: map[string]bool{}}
	h.allow(b)
	a, out := r.call(ws, "POST", "/v1/webhooks", string(raw))
	if a.code != http.StatusCreated {
		if i < modelAnchors {
			r.m.t.Fatalf("create the round's webhook %d: %d %s %v", i, a.code, a.body, a.err)
		}
		checkAnswer(r, "create", a)
		return
	}
	h.id, _ = out["id"].(string)
	secret, _ := out["secret"].(string)
	h.secrets = []string{secret}
	r.hooks[i] = h
}

func hostOf(base string) string { return strings.TrimPrefix(base, "http://") }

// allow notes the credentials a create or patch body gives as allowed at
// the hosts the webhook may be at.
func (h *modelHook) allow(body map[string]any) {
	var values []string
	if a, ok := body["auth"].(map[string]any); ok {
		switch a["type"] {
		case "basic":
			values = append(values, "Basic "+base64.StdEncoding.EncodeToString([]byte(a["username"].(string)+":"+a["password"].(string))))
		case "bearer":
			values = append(values, "Bearer "+a["token"].(string))
		}
	}
	if hs, ok := body["headers"].(map[string]any); ok {
		if v, ok := hs["X-Model"].(string); ok {
			values = append(values, v)
		}
	}
	for _, host := range h.hosts {
		for _, v := range values {
			h.credentials[host+"\x00"+v] = true
		}
	}
}

// move moves the webhook's URL to the other origin: alone (refused while
// it has credentials), with them removed, or with fresh ones.
func (r *modelRound) move(h *modelHook, mode string, n int) {
	from, to := r.m.rcv.base, r.m.rcv.other
	if len(h.hosts) == 1 && h.hosts[0] == hostOf(to) {
		from, to = to, from
	}
	b := map[string]any{"url": to + h.path}
	switch mode {
	case "clear":
		b["auth"], b["headers"] = nil, nil
	case "fresh":
		b["auth"] = map[string]any{"type": "basic", "username": "model", "password": "mv-" + strconv.Itoa(n)}
		b["headers"] = map[string]any{"X-Model": "mv-" + strconv.Itoa(n)}
	}
	raw, _ := json.Marshal(b)
	h.changed = true
	a, _ := r.call(h.ws, "PATCH", "/v1/webhooks/"+h.id, string(raw))
	switch {
	case a.code == http.StatusOK:
		h.hosts = []string{hostOf(to)}
	case a.code == http.StatusUnprocessableEntity:
		if mode != "alone" {
			r.violate("move with credentials %s refused: %s", mode, a.body)
		}
		return
	default:
		checkAnswer(r, "move", a)
		h.hosts = []string{hostOf(from), hostOf(to)}
	}
	h.allow(b)
}

// checkAnswer records a violation for an answer that is neither a
// success nor a clean refusal.
func checkAnswer(r *modelRound, what string, a apiAnswer) {
	if a.err == nil && a.code >= 500 && (a.code != http.StatusServiceUnavailable || a.retryAfter == "" || !a.shaped) {
		r.violate("%s: %d %s", what, a.code, a.body)
	}
}

func (r *modelRound) emitBody(e modelEvent) string {
	return fmt.Sprintf(`{"id": %q, "event": %q, "workspaceId": %q, "payload": %s}`, e.ID, e.Type, r.ws[e.WS], e.Payload)
}

func (r *modelRound) accept(e modelEvent, sent time.Time) {
	r.order++
	r.accepted[[2]string{strconv.Itoa(e.WS), e.ID}] = &modelAccepted{ev: e, order: r.order, sent: sent, accepted: time.Now()}
	r.res.events++
}

func (r *modelRound) apply(op modelOp) {
	switch op.Kind {
	case opEmit, opRepeat, opRepeatDiff:
		e := op.Events[0]
		prior := r.accepted[[2]string{strconv.Itoa(e.WS), e.ID}]
		sent := time.Now()
		a := callAPI(r.m.tp.base, r.m.platform, "POST", "/v1/events", r.emitBody(e))
		switch {
		case a.code == http.StatusAccepted && prior == nil:
			r.accept(e, sent)
		case a.code == http.StatusAccepted && op.Kind == opRepeatDiff:
			r.violate("%s: the same id with another payload was accepted (%s)", e.ID, a.body)
		case a.code == http.StatusConflict && (prior == nil || op.Kind != opRepeatDiff):
			r.violate("%s: %s answered 409 %s", e.ID, op.Kind, a.body)
		case a.code != http.StatusAccepted && a.code != http.StatusConflict:
			checkAnswer(r, "emit "+e.ID, a)
		}
	case opBatch:
		var bodies []string
		for _, e := range op.Events {
			bodies = append(bodies, r.emitBody(e))
		}
		sent := time.Now()
		a := callAPI(r.m.tp.base, r.m.platform, "POST", "/v1/events/batch", `{"events": [`+strings.Join(bodies, ",")+`]}`)
		switch a.code {
		case http.StatusAccepted:
			for _, e := range op.Events {
				if r.accepted[[2]string{strconv.Itoa(e.WS), e.ID}] == nil {
					r.accept(e, sent)
				}
			}
		case http.StatusConflict:
		default:
			checkAnswer(r, "batch", a)
		}
	case opCreate:
		r.create(op.Hook, 0, op.Body)
	case opPatch, opPause, opResume:
		h := r.hook(op.Hook)
		if h == nil {
			return
		}
		body := op.Body
		switch op.Kind {
		case opPause:
			body = `{"status": "PAUSED"}`
		case opResume:
			body = `{"status": "ACTIVE"}`
		}
		h.changed = true // even a refused change may have been made
		a, _ := r.call(h.ws, "PATCH", "/v1/webhooks/"+h.id, body)
		if a.code != http.StatusOK {
			checkAnswer(r, "patch", a)
		}
		if a.code != http.StatusUnprocessableEntity {
			var b map[string]any
			_ = json.Unmarshal([]byte(body), &b)
			h.allow(b)
		}
	case opMove:
		if h := r.hook(op.Hook); h != nil {
			r.move(h, op.Mode, op.Pick)
		}
	case opDelete:
		h := r.hook(op.Hook)
		if h == nil {
			return
		}
		h.changed = true
		if a, _ := r.call(h.ws, "DELETE", "/v1/webhooks/"+h.id, ""); a.code == http.StatusNoContent {
			h.deleted = true
		} else {
			checkAnswer(r, "delete", a)
		}
	case opRotate:
		h := r.hook(op.Hook)
		if h == nil {
			return
		}
		a, out := r.call(h.ws, "POST", "/v1/webhooks/"+h.id+"/rotate-secret", `{"gracePeriod": "1h"}`)
		if s, ok := out["secret"].(string); ok && a.code == http.StatusOK {
			h.secrets = append(h.secrets, s)
		} else {
			checkAnswer(r, "rotate", a)
		}
	case opRetry:
		h := r.hook(op.Hook)
		if h == nil {
			return
		}
		items := r.log(h)
		if len(items) == 0 {
			return
		}
		id, _ := items[op.Pick%len(items)]["id"].(string)
		if a, _ := r.call(h.ws, "POST", "/v1/deliveries/"+id+"/retry", ""); a.code != http.StatusOK {
			checkAnswer(r, "retry", a)
		}
	case opRecover:
		h := r.hook(op.Hook)
		if h == nil {
			return
		}
		body := fmt.Sprintf(`{"since": %q, "dryRun": %v}`, r.began.UTC().Format(time.RFC3339), op.Dry)
		if a, _ := r.call(h.ws, "POST", "/v1/webhooks/"+h.id+"/recover", body); a.code >= 300 {
			checkAnswer(r, "recover", a)
		}
	case opReceiver:
		if h := r.hook(op.Hook); h != nil {
			r.m.rcv.setMode(h.path, op.Mode)
		}
	case opFault:
		r.res.faults++
		r.m.fault(op)
	}
}

// fault breaks one part of the topology and repairs it.
func (m *modelWorld) fault(op modelOp) {
	t := m.t
	switch op.Fault {
	case "kill-worker":
		w := m.tp.workers[len(m.tp.workers)-1]
		_ = w.cmd.Process.Signal(syscall.SIGKILL)
		m.tp.workers = m.tp.workers[:len(m.tp.workers)-1]
		m.tp.startWorker()
	case "restart-temporal":
		m.temporal.stop(t)
		m.temporal = start(t, nil, m.tArgs...)
		m.temporal.waitFor(t, `Temporal server is running`)
		eventuallyReady(t, http.StatusOK, m.tp.base)
	case "stop-postgres":
		m.pg.stop(t)
		defer m.pg.start(t)
		until := time.Now().Add(op.Dur)
		for time.Now().Before(until) {
			checkDegraded(t, "list webhooks with the database down", callAPI(m.tp.base, m.tp.key, "GET", "/v1/webhooks", ""))
			time.Sleep(time.Second) // pacing the probe, not waiting for an outcome
		}
	}
}

// log lists a webhook's delivery log, newest first.
func (r *modelRound) log(h *modelHook) []map[string]any {
	var out []map[string]any
	cursor := ""
	for {
		path := "/v1/webhooks/" + h.id + "/deliveries?limit=100"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		a, page := r.call(h.ws, "GET", path, "")
		if a.code != http.StatusOK {
			return out
		}
		d, _ := page["deliveries"].(map[string]any)
		items, _ := d["items"].([]any)
		for _, it := range items {
			out = append(out, it.(map[string]any))
		}
		next, _ := d["nextCursor"].(string)
		if next == "" {
			return out
		}
		cursor = next
	}
}

// quiesce makes every endpoint healthy, resumes every webhook, waits for
// what is under way to end, then recovers every webhook and waits for
// that.
func (r *modelRound) quiesce() {
	eventuallyReady(r.m.t, http.StatusOK, r.m.tp.base)
	var live []*modelHook
	for i := range r.hooks {
		if h := r.hook(i); h != nil {
			r.m.rcv.setMode(h.path, "ok")
			live = append(live, h)
		}
	}
	for _, h := range live {
		if a, _ := r.call(h.ws, "PATCH", "/v1/webhooks/"+h.id, `{"status": "ACTIVE"}`); a.code != http.StatusOK {
			r.violate("resume %s: %d %s", h.id, a.code, a.body)
		}
	}
	running := fmt.Sprintf(`(TidyWorkspace = %q OR TidyWorkspace = %q) AND ExecutionStatus = 'Running' AND WorkflowType != 'DeliverInOrder'`, r.ws[0], r.ws[1])
	why := ""
	told := time.Now()
	settled := func(statuses ...string) bool {
		if time.Since(told) > 20*time.Second {
			r.m.t.Logf("round %s still quiescing: %s", r.tag, why)
			told = time.Now()
		}
		n, err := r.m.tc.CountWorkflow(context.Background(), &workflowservice.CountWorkflowExecutionsRequest{Namespace: "default", Query: running})
		if err != nil || n.Count > 0 {
			why = fmt.Sprintf("running workflows: %v %v", n.GetCount(), err)
			return false
		}
		// Visibility lags: every accepted event's own workflow is asked.
		for key, acc := range r.accepted {
			if r.closed[key] {
				continue
			}
			d, err := r.m.tc.DescribeWorkflowExecution(context.Background(), workflows.EventWorkflowID(r.ws[acc.ev.WS], acc.ev.ID), "")
			if err != nil || d.WorkflowExecutionInfo.GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
				why = fmt.Sprintf("the workflow of %s is running (%v)", acc.ev.ID, err)
				return false
			}
			r.closed[key] = true
		}
		for _, h := range live {
			for _, d := range r.log(h) {
				if slices.Contains(statuses, d["status"].(string)) {
					why = fmt.Sprintf("%s at %s is %s (%v)", d["eventId"], h.id, d["status"], d["lastError"])
					return false
				}
			}
		}
		return true
	}
	if !testenv.Eventually(3*time.Minute, func() bool { return settled("pending") }) {
		r.violate("not drained three minutes after the round: %s", why)
	}
	for _, h := range live {
		body := fmt.Sprintf(`{"since": %q}`, r.began.UTC().Format(time.RFC3339))
		ok := testenv.Eventually(time.Minute, func() bool {
			a, _ := r.call(h.ws, "POST", "/v1/webhooks/"+h.id+"/recover", body)
			// 200: nothing to recover; 409 while another recover runs.
			return a.code == http.StatusAccepted || a.code == http.StatusOK
		})
		if !ok {
			r.violate("recover of %s never accepted", h.id)
		}
	}
	testenv.Eventually(2*time.Minute, func() bool { return settled("pending", "failed", "skipped") })
}

// check is the oracle.
func (r *modelRound) check() {
	byID := map[string]*modelHook{}
	for i := range r.hooks {
		if h := r.hooks[i]; h != nil {
			byID[h.id] = h
		}
	}
	arrivals := r.m.rcv.of("/" + r.tag + "/")
	r.res.requests = len(arrivals)
	type pair struct{ event, hook string }
	accepted := map[pair]int{} // 2xx answers per pair
	first := map[pair]modelArrival{}
	gone := map[string]bool{}
	for _, a := range arrivals {
		h := byID[a.webhookID]
		if h == nil || h.path != a.path {
			r.violate("a request for webhook %q reached %s", a.webhookID, a.path)
			continue
		}
		if a.code == http.StatusGone {
			gone[h.id] = true
		}
		// Credentials arrive only where they were given.
		for _, v := range []string{a.header.Get("Authorization"), a.header.Get("X-Model")} {
			if v != "" && !h.credentials[a.host+"\x00"+v] {
				r.violate("%s reached %s at %s with a credential given for another origin (%.12s…)", a.eventID, h.id, a.host, v)
			}
		}
		// Tenancy: the event is the webhook's workspace's, as emitted.
		acc := r.accepted[[2]string{strconv.Itoa(h.ws), a.eventID}]
		if acc == nil {
			r.violate("%s reached %s (workspace %s), which it was not accepted for", a.eventID, h.id, r.ws[h.ws])
			continue
		}
		if acc.accepted.Before(h.createdAt) {
			r.violate("%s reached %s, created after the event was accepted", a.eventID, h.id)
		}
		var body struct{ Payload any }
		var want any
		_ = json.Unmarshal(a.body, &body)
		_ = json.Unmarshal([]byte(acc.ev.Payload), &want)
		if !reflect.DeepEqual(body.Payload, want) {
			r.violate("%s reached %s with payload %s, emitted %s", a.eventID, h.id, a.body, acc.ev.Payload)
		}
		// Signatures: valid for a secret the webhook had, made when sent
		// (the check runs minutes later, past the libraries' tolerance, so
		// the timestamp is held against the arrival instead).
		valid := false
		for _, s := range h.secrets {
			if wh, err := standardwebhooks.NewWebhook(s); err == nil && wh.VerifyIgnoringTimestamp(a.body, a.header) == nil {
				valid = true
			}
		}
		if !valid {
			r.violate("%s reached %s with a signature none of its secrets made", a.eventID, h.id)
		}
		if ts, err := strconv.ParseInt(a.header.Get("webhook-timestamp"), 10, 64); err != nil || a.at.Sub(time.Unix(ts, 0)).Abs() > time.Minute {
			r.violate("%s reached %s at %s with webhook-timestamp %q", a.eventID, h.id, a.at.Format(time.RFC3339), a.header.Get("webhook-timestamp"))
		}
		if a.code >= 200 && a.code < 300 {
			p := pair{a.eventID, h.id}
			if accepted[p] == 0 {
				first[p] = a
			}
			accepted[p]++
		}
	}
	for i := range r.hooks {
		h := r.hook(i)
		if h == nil {
			continue
		}
		logged := map[string]map[string]any{}
		for _, d := range r.log(h) {
			ev := d["eventId"].(string)
			logged[ev] = d
			if st := d["status"].(string); st != "delivered" {
				r.violate("ledger: %s at %s is %s after quiescing and recovering (%v)", ev, h.id, st, d["lastError"])
			}
		}
		// Every pair the receiver accepted is in the log, with no more
		// 2xx answers than delivered attempts, unknown ones aside.
		var ordered []pair
		for p, n := range accepted {
			if p.hook != h.id {
				continue
			}
			d := logged[p.event]
			if d == nil {
				r.violate("ledger: %s was accepted by %s's endpoint and is not in its log", p.event, h.id)
				continue
			}
			attempts := r.attempts(h, d["id"].(string))
			delivered, unknown := 0, 0
			for _, at := range attempts {
				switch at["status"] {
				case "delivered":
					delivered++
				case "unknown":
					unknown++
				}
			}
			r.res.unknown += unknown
			if n > delivered+unknown || n > delivered+1 {
				r.violate("duplicates: %s reached %s %d times, its log has %d delivered and %d unknown attempts", p.event, h.id, n, delivered, unknown)
			}
			if a := first[p]; a.attempt >= 1 && a.attempt <= len(attempts) && attempts[a.attempt-1]["trigger"] == "scheduled" {
				ordered = append(ordered, p)
			}
		}
		// Order: for a webhook made ordered and never changed, what its
		// scheduled attempts delivered arrived in emit order.
		if h.body["ordering"] == "conversation" && !h.changed && !gone[h.id] {
			byConv := map[string][]modelArrival{}
			for _, p := range ordered {
				acc := r.accepted[[2]string{strconv.Itoa(h.ws), p.event}]
				if conv := conversationOf(acc.ev.Payload); conv != "" {
					byConv[conv] = append(byConv[conv], first[p])
				}
			}
			for conv, as := range byConv {
				slices.SortFunc(as, func(x, y modelArrival) int { return x.at.Compare(y.at) })
				for k := 1; k < len(as); k++ {
					prev := r.accepted[[2]string{strconv.Itoa(h.ws), as[k-1].eventID}]
					cur := r.accepted[[2]string{strconv.Itoa(h.ws), as[k].eventID}]
					if cur.order < prev.order {
						r.violate("order: at %s, %s (emitted %d) arrived after %s (emitted %d) in %s", h.id, cur.ev.ID, cur.order, prev.ev.ID, prev.order, conv)
					}
				}
			}
		}
		// The pairs that surely matched: a webhook made before the event
		// and never changed after, subscribed and passing its filter.
		if h.changed || gone[h.id] {
			continue
		}
		for _, acc := range r.accepted {
			if acc.ev.WS != h.ws || !acc.sent.After(h.createdAt) || !modelMatches(h.body, acc.ev) {
				continue
			}
			r.res.pairs++
			if logged[acc.ev.ID] == nil {
				r.violate("ledger: %s matched %s and is not in its log", acc.ev.ID, h.id)
			}
			if accepted[pair{acc.ev.ID, h.id}] == 0 {
				r.violate("ledger: %s matched %s and never arrived", acc.ev.ID, h.id)
			}
		}
	}
}

// attempts returns a delivery's attempts, oldest first.
func (r *modelRound) attempts(h *modelHook, deliveryID string) []map[string]any {
	a, d := r.call(h.ws, "GET", "/v1/deliveries/"+deliveryID, "")
	if a.code != http.StatusOK {
		r.violate("read delivery %s: %d %s", deliveryID, a.code, a.body)
		return nil
	}
	var out []map[string]any
	list, _ := d["attempts"].([]any)
	for _, at := range list {
		out = append(out, at.(map[string]any))
	}
	return out
}

func conversationOf(payload string) string {
	var p struct {
		Conversation struct{ ID string } `json:"conversation"`
		Message      struct {
			ConversationID string `json:"conversationId"`
		} `json:"message"`
	}
	_ = json.Unmarshal([]byte(payload), &p)
	return p.Conversation.ID + p.Message.ConversationID
}

// modelMatches is the model's own reading of a subscription and filter.
func modelMatches(body map[string]any, e modelEvent) bool {
	family, _, _ := strings.Cut(e.Type, ".")
	typ, _ := models.LookupEvent(e.Type)
	events, _ := body["events"].([]any)
	subscribed := false
	for _, x := range events {
		s := x.(string)
		if s == "*" || s == family+".*" || s == typ.Name || s == e.Type {
			subscribed = true
		}
	}
	if !subscribed {
		return false
	}
	if f, ok := body["filter"].(map[string]any); ok {
		var p struct {
			Conversation struct{ Tier string } `json:"conversation"`
		}
		_ = json.Unmarshal([]byte(e.Payload), &p)
		return p.Conversation.Tier == f["conversation.tier"]
	}
	return true
}

// shrink drops operations, in halves then one at a time, while the round
// still fails, within a bounded number of tries.
func (m *modelWorld) shrink(ops []modelOp, violations []string) ([]modelOp, []string) {
	best := ops
	tries := 0
	for chunk := len(best) / 2; chunk >= 1 && tries < 12; chunk /= 2 {
		for i := 0; i+chunk <= len(best) && tries < 12; {
			cand := append(append([]modelOp{}, best[:i]...), best[i+chunk:]...)
			tries++
			if res := m.round(cand); len(res.violations) > 0 {
				best, violations = cand, res.violations
				continue
			}
			i += chunk
		}
	}
	return best, violations
}
