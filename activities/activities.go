// Package activities holds the side effects of delivery: finding the
// webhooks an event matches and sending one signed HTTP POST to one
// webhook. Workflows call them; they own the HTTP client and reach storage
// only through the small interfaces declared here. It imports models,
// signing and netguard; never workflows, api or store.
package activities

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/oauth2"

	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/netguard"
	"github.com/tidysupport/tidyhooks/signing"
)

// Matcher finds the webhooks an event goes to.
type Matcher interface {
	MatchEvent(ctx context.Context, workspaceID string, e models.EventType, eventID string) (models.Match, error)
	NextInOrder(ctx context.Context, workspaceID, webhookID, conversationID, workflowID string, afterSeq int64, canUnorder bool) (models.InOrderNext, error)
	OweInOrder(ctx context.Context, workspaceID, eventID, workflowID string, webhookIDs []string) error
}

// DeliveryStore is what one delivery reads and writes. DeliveryInputs
// returns the webhook, its secrets valid at now (current first), the event
// and the delivery's status, or a *models.NotFoundError naming which is
// gone. BeginAttempt and FinishAttempt keep the delivery log.
type DeliveryStore interface {
	DeliveryInputs(ctx context.Context, webhookID, eventID string, now time.Time) (models.DeliveryJob, error)
	BeginAttempt(ctx context.Context, a models.AttemptStart) (models.AttemptRef, error)
	FinishAttempt(ctx context.Context, e models.AttemptEnd) error
	SkipDelivery(ctx context.Context, a models.AttemptStart, reason string) error
	PauseWebhook(ctx context.Context, workspaceID, id, reason string) (announce []models.Event, err error)
	RecordAttempt(ctx context.Context, workspaceID, webhookID string, at time.Time, errMsg string, pauseAfter time.Duration) (announce []models.Event, err error)
	ReserveDelivery(ctx context.Context, webhookID string, t models.Throttle, now time.Time, horizon, leaseFor time.Duration) (models.Reservation, error)
	ReleaseLease(ctx context.Context, lease string) error
}

// Recoverer lists what a recover redelivers.
type Recoverer interface {
	RecoverableDeliveries(ctx context.Context, workspaceID, webhookID string, since, until time.Time, after string, limit int) ([]models.Delivery, error)
	RecoverableInOrder(ctx context.Context, workspaceID, webhookID string, since, until time.Time, afterSeq int64, limit int) ([]models.Recoverable, error)
}

// Store is all four.
type Store interface {
	Matcher
	DeliveryStore
	Recoverer
	TokenStore
}

// Defaults of Config.
const (
	DefaultTimeout = 15 * time.Second
	MaxTimeout     = 25 * time.Second // below workflows.AttemptTimeout
)

// Error types of the delivery activity's application errors.
const (
	ErrTypeHTTP      = "DeliveryFailed"         // retried on the schedule
	ErrTypeGone      = "EndpointGone"           // 410: webhook paused, not retried
	ErrTypeBlocked   = "DestinationBlocked"     // SSRF guard: not retried
	ErrTypeExhausted = "RetryScheduleExhausted" // the last attempt failed
	ErrTypeNoEvent   = "EventMissing"           // the stored event is gone
	ErrTypeStore     = "StoreUnavailable"       // the database did not answer: retried
	ErrTypeBusy      = "WebhookBusy"            // over the in-flight cap: retried shortly
	ErrTypeThrottled = "Throttled"              // over the webhook's throttle: waits its turn
)

// Config is the deployment's delivery settings.
type Config struct {
	// Retry is the retry schedule; a nil Schedule means
	// models.DefaultRetrySchedule, a zero cap models.DefaultRetryAfterCap.
	Retry     models.RetryPolicy
	Timeout   time.Duration // per attempt; 0 means DefaultTimeout
	Network   netguard.Policy
	UserAgent string
	// Observer, when set, hears of every attempt (metrics).
	Observer Observer
	// PauseAfter pauses a webhook whose attempts have all failed for this
	// long; 0 means DefaultPauseAfter, negative never.
	PauseAfter time.Duration
	// MaxInFlight bounds one slow webhook's scheduled attempts in flight
	// in this worker (one whose requests take over five seconds, or that
	// has not answered one yet); 0 means DefaultWebhookMaxInFlight. An attempt
	// over it waits its turn (retried shortly, without using up a retry),
	// so that an endpoint that hangs holds at most that many of the
	// worker's slots. A webhook that answers quickly may have up to
	// FastWebhookInFlight.
	MaxInFlight int
	// Announcer publishes the webhook.paused events an automatic pause
	// stores (the emitter); without it they wait for the worker's sweep.
	Announcer Announcer
	// Signaler starts ordered deliveries (a Temporal client); without it
	// a webhook's ordering cannot be honoured and its events fail to
	// queue.
	Signaler Signaler
	// RootCAs are the certificate authorities deliveries trust; nil is
	// the system's.
	RootCAs *x509.CertPool
	// AfterSend, when set, runs after each attempt's request and before
	// its outcome is recorded. Fault-injection tests use it to stop a
	// worker at the worst moment.
	AfterSend func(ctx context.Context, in DeliverInput)
}

// DefaultWebhookMaxInFlight is Config.MaxInFlight's default: with the
// worker's 200 slots, fifty endpoints that all hang hold half of them.
const DefaultWebhookMaxInFlight = 2

// FastWebhookInFlight bounds the attempts in flight in a worker to a
// webhook that answers within five seconds.
const FastWebhookInFlight = 32

// WorkspaceLocalInFlight bounds one slow workspace's first attempts
// running as local activities in a worker (one that has not had a request
// answered yet, or has one in flight for over five seconds); a workspace
// whose endpoints answer may have FastWorkspaceLocalInFlight. Local
// activities bypass the task queue and its fairness between workspaces;
// with this bound a workspace whose endpoints hang holds at most 32 of a
// worker's local slots, and its other first attempts wait their turn on
// the durable path, where fairness applies.
const (
	WorkspaceLocalInFlight     = 32
	FastWorkspaceLocalInFlight = 128
)

// DefaultPauseAfter is SPEC §4's auto-pause window.
const DefaultPauseAfter = 5 * 24 * time.Hour

// Observer hears of every delivery attempt: the event type's wire name,
// the outcome ("delivered" or "failed"), the HTTP status (0 without an
// answer) and how long the attempt took; and of every log write that
// failed after a request was made ("outcome" or "webhook").
type Observer interface {
	ObserveAttempt(event, outcome string, status int, latency time.Duration)
	ObserveLogWriteFailure(record string)
	// ObserveDeliveryEnd hears how a delivery on the retry schedule ended:
	// delivered, exhausted, gone, blocked or skipped (models.End).
	ObserveDeliveryEnd(end models.End)
}

// Activities holds the long-lived dependencies of delivery. Register one
// value per worker.
type Activities struct {
	store     Store
	oauth     *oauthTokens
	client    *http.Client
	transport *http.Transport // client's; mTLS clients clone it
	mtls      *mtlsClients
	cfg       Config
	now       func() time.Time
	jitter    func() float64 // uniform in [0, 1)
	recent    *recorded
	busy      *inFlight // scheduled attempts per webhook
	local     *inFlight // first attempts made as local activities, per workspace
}

// inFlight counts attempts in flight in this worker per key (a webhook,
// or a workspace), and bounds them: at most max while the key is slow,
// fastMax while it is not. A key is slow until one of its requests has
// been answered, while its last request took longer than slowAfter, and
// while a request of it has been under way longer: so an endpoint that
// hangs is held to max at once, while one that answers, even in a few
// seconds, is not throttled. Only the request's own time counts, not
// bookkeeping before it, which a busy database can slow down: an attempt
// queued for its log write does not make its endpoint look slow.
type inFlight struct {
	mu      sync.Mutex
	keys    map[string]*load
	max     int
	fastMax int
}

type load struct {
	slots []*slot       // of the attempts in flight
	last  time.Duration // of the last attempt to end; -1 before any
	freed chan struct{} // closed when a slot is left; nil until waited on
}

// slot is one attempt in flight; sending is when its request started, in
// Unix nanoseconds, zero before. It is set without the bound's lock.
type slot struct{ sending atomic.Int64 }

// send marks the slot's request as started at now.
func (s *slot) send(now time.Time) { s.sending.Store(now.UnixNano()) }

// slowAfter is how long a request may take before its key counts as slow:
// well past a healthy endpoint's answer, well within the 15 s timeout a
// hanging one holds a slot for.
const slowAfter = 5 * time.Second

func newInFlight(slowMax, fastMax int) *inFlight {
	return &inFlight{keys: map[string]*load{}, max: slowMax, fastMax: max(fastMax, slowMax)}
}

// enter returns a slot for one more attempt of key at now, or nil when the
// key is at its bound; and whether the key is slow. The slot's send marks
// its request as started; leave ends the slot, with the time its request
// took (negative when none was made).
func (f *inFlight) enter(key string, now time.Time) (_ *slot, slow bool) {
	s, slow, _ := f.tryEnter(key, now)
	return s, slow
}

// fastWait is how long an attempt to a fast key at its bound waits for a
// slot before it gives up its own (and is retried after webhookBusy's
// wait): a fast endpoint frees a slot within milliseconds, and a retry
// costs the workflow a timer, an activity and a workflow task.
const fastWait = 2 * time.Second

// acquire is enter, except that an attempt to a fast key at its bound
// waits up to fastWait for a slot to be left. A slow key, or one never
// answered, is refused at once: waiting behind a hanging endpoint would
// hold this attempt's worker slot too. slow reports whether the key is
// known to be slow (a request of it took, or has been under way, over
// slowAfter): a key merely never answered is not, so that the attempts
// refused while a new endpoint's first answers are under way are retried
// soon (webhookBusy).
func (f *inFlight) acquire(ctx context.Context, key string) (_ *slot, slow bool) {
	timer := time.NewTimer(fastWait)
	defer timer.Stop()
	for {
		s, slow, freed := f.tryEnter(key, time.Now())
		if s != nil || freed == nil {
			return s, slow
		}
		select {
		case <-freed:
		case <-timer.C:
			return nil, false
		case <-ctx.Done():
			return nil, false
		}
	}
}

// tryEnter is enter; when it refuses a fast key it also returns a channel
// closed when a slot of the key is next left.
func (f *inFlight) tryEnter(key string, now time.Time) (_ *slot, slow bool, freed <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.keys[key]
	if l == nil {
		if len(f.keys) > 100_000 {
			for k, v := range f.keys {
				if len(v.slots) == 0 {
					delete(f.keys, k)
				}
			}
		}
		l = &load{last: -1}
		f.keys[key] = l
	}
	slow = l.last > slowAfter
	for _, s := range l.slots {
		sending := s.sending.Load()
		slow = slow || sending != 0 && now.Sub(time.Unix(0, sending)) > slowAfter
	}
	limit := f.fastMax
	if slow || l.last < 0 {
		limit = f.max
	}
	if len(l.slots) >= limit {
		if slow || l.last < 0 {
			return nil, slow, nil
		}
		if l.freed == nil {
			l.freed = make(chan struct{})
		}
		return nil, false, l.freed
	}
	s := &slot{}
	l.slots = append(l.slots, s)
	return s, slow, nil
}

func (f *inFlight) leave(key string, s *slot, request time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.keys[key]
	if l == nil {
		return
	}
	for i, x := range l.slots {
		if x == s {
			l.slots = append(l.slots[:i], l.slots[i+1:]...)
			break
		}
	}
	if l.freed != nil {
		close(l.freed)
		l.freed = nil
	}
	if request >= 0 {
		l.last = request
	}
}

// heldSlots are one attempt's slots in the in-flight bounds.
type heldSlots []heldSlot

type heldSlot struct {
	bound *inFlight
	key   string
	slot  *slot
}

func (h *heldSlots) add(bound *inFlight, key string, s *slot) {
	*h = append(*h, heldSlot{bound, key, s})
}

// send marks the attempt's request as started.
func (h heldSlots) send(now time.Time) {
	for _, x := range h {
		x.slot.send(now)
	}
}

// leave ends the slots, with the time the request took (negative when
// none was made); leaving again does nothing.
func (h *heldSlots) leave(request time.Duration) {
	for _, x := range *h {
		x.bound.leave(x.key, x.slot, request)
	}
	*h = nil
}

// recorded remembers when each webhook's last success was written, so that
// a busy webhook's lastAttemptedAt is written at most once a second.
type recorded struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// due reports whether a success at now should be written, and if so
// remembers it.
func (r *recorded) due(webhookID string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.last[webhookID]) < time.Second {
		return false
	}
	if len(r.last) > 100_000 {
		clear(r.last)
	}
	r.last[webhookID] = now
	return true
}

// forget drops a webhook's last recorded success.
func (r *recorded) forget(webhookID string) {
	r.mu.Lock()
	delete(r.last, webhookID)
	r.mu.Unlock()
}

// New returns the activities with an HTTP client that never follows
// redirects and refuses addresses cfg.Network blocks.
func New(store Store, cfg Config) *Activities {
	if cfg.Retry.Schedule == nil {
		cfg.Retry.Schedule = models.DefaultRetrySchedule
	}
	if cfg.Retry.RetryAfterCap <= 0 {
		cfg.Retry.RetryAfterCap = models.DefaultRetryAfterCap
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "TidySupport-Webhooks/dev"
	}
	if cfg.PauseAfter == 0 {
		cfg.PauseAfter = DefaultPauseAfter
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultWebhookMaxInFlight
	}
	transport := &http.Transport{
		DialContext:           cfg.Network.DialContext(cfg.Timeout),
		Proxy:                 nil, // a proxy would connect on our behalf and defeat the guard
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
	}
	a := &Activities{
		store:     store,
		transport: transport,
		mtls:      &mtlsClients{clients: map[[sha256.Size]byte]*http.Client{}},
		client: &http.Client{
			Transport: transport,
			Timeout:   cfg.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		cfg:    cfg,
		now:    time.Now,
		jitter: rand.Float64,
		recent: &recorded{last: map[string]time.Time{}},
		busy:   newInFlight(cfg.MaxInFlight, FastWebhookInFlight),
		local:  newInFlight(WorkspaceLocalInFlight, FastWorkspaceLocalInFlight),
	}
	transport.TLSClientConfig = a.tlsConfig()
	a.oauth = &oauthTokens{store: store, client: a.client, userAgent: cfg.UserAgent, timeout: cfg.Timeout, now: time.Now,
		cached: map[string]cachedToken{}, styles: map[string]oauth2.AuthStyle{}}
	return a
}

// MatchInput names an event for MatchWebhooks.
type MatchInput struct {
	WorkspaceID string
	EventType   string // enum name
	// EventID names the event whose payload the webhooks' filters read;
	// lookups recorded before filters existed lack it.
	EventID string `json:",omitempty"`
}

// MatchResult lists the webhooks to deliver to.
type MatchResult struct {
	WebhookIDs []string
	// Ordered are the webhooks, among WebhookIDs, that take the event's
	// conversation (ConversationID) in order; Seq is the event's place
	// in it.
	Ordered        []string `json:",omitempty"`
	ConversationID string   `json:",omitempty"`
	Seq            int64    `json:",omitempty"`
}

// MatchWebhooks returns the workspace's ACTIVE webhooks subscribed to the
// event now: a webhook created later does not receive it.
func (a *Activities) MatchWebhooks(ctx context.Context, in MatchInput) (MatchResult, error) {
	typ, ok := models.LookupEvent(in.EventType)
	if !ok {
		return MatchResult{}, temporal.NewNonRetryableApplicationError("unknown event type "+in.EventType, "UnknownEvent", nil)
	}
	m, err := a.store.MatchEvent(ctx, in.WorkspaceID, typ, in.EventID)
	if err != nil {
		return MatchResult{}, err
	}
	return MatchResult{WebhookIDs: m.WebhookIDs, Ordered: m.Ordered, ConversationID: m.ConversationID, Seq: m.Seq}, nil
}

// DeliverInput names one (event, webhook) pair. Secrets and the payload are
// loaded by the activity and never enter workflow history.
type DeliverInput struct {
	EventID   string
	WebhookID string
	// Test marks a "test this webhook" delivery: sent even to a paused
	// webhook, and a 410 answer does not pause it.
	Test bool `json:",omitempty"`
	// Trigger is what asked for the attempt; "" is the event's own
	// workflow on the retry schedule. Manual retries, recovers and tests
	// make one attempt each.
	Trigger models.AttemptTrigger `json:",omitempty"`
}

func (in DeliverInput) trigger() models.AttemptTrigger {
	switch {
	case in.Test:
		return models.TriggerTest
	case in.Trigger == "":
		return models.TriggerScheduled
	}
	return in.Trigger
}

// Outcomes of a delivery.
const (
	OutcomeDelivered = "delivered"
	OutcomeSkipped   = "skipped" // the webhook was paused or deleted
)

// DeliverResult is a successful or skipped delivery.
type DeliverResult struct {
	Outcome    string
	Attempt    int32
	StatusCode int
	LatencyMs  int64
	Reason     string `json:",omitempty"`
	// Unrecorded is the attempt's outcome when it could not be written:
	// the workflow writes it (RecordOutcome).
	Unrecorded *models.AttemptEnd `json:",omitempty"`
}

// FailureDetails are the details of every failure Deliver returns, read
// back with ReadFailureDetails.
type FailureDetails struct {
	Attempt    int32
	StatusCode int // 0 without an answer
	LatencyMs  int64
	// Unrecorded is as DeliverResult's.
	Unrecorded *models.AttemptEnd `json:",omitempty"`
}

// ReadFailureDetails returns the details of a failure Deliver returned.
// Failures recorded before the details were a struct carry them as three
// values in this order; those read the same.
func ReadFailureDetails(err *temporal.ApplicationError) (FailureDetails, bool) {
	var d FailureDetails
	if !err.HasDetails() {
		return d, false
	}
	if err.Details(&d) == nil {
		return d, true
	}
	if err.Details(&d.Attempt, &d.StatusCode, &d.LatencyMs) == nil {
		return d, true
	}
	return FailureDetails{}, false
}

// Deliver sends one signed POST of the event to the webhook and records
// it: the attempt is logged as sending before the request goes out and
// completed after, so that a worker lost in between leaves its record.
// What happens next is models.RetryPolicy's decision, which Deliver
// records and returns: a result when the delivery is done or skipped, an
// error whose NextRetryDelay is the verdict's wait when the schedule
// retries, and a non-retryable error when it has ended otherwise.
func (a *Activities) Deliver(ctx context.Context, in DeliverInput) (DeliverResult, error) {
	info := activity.GetInfo(ctx)
	attempt := info.Attempt
	trigger := in.trigger()
	now := a.now()
	job, err := a.store.DeliveryInputs(ctx, in.WebhookID, in.EventID, now)
	var missing *models.NotFoundError
	switch {
	case errors.As(err, &missing) && missing.Kind == "event":
		return DeliverResult{}, temporal.NewNonRetryableApplicationError("event "+in.EventID+" is no longer stored", ErrTypeNoEvent, err)
	case errors.As(err, &missing):
		return DeliverResult{Outcome: OutcomeSkipped, Attempt: attempt, Reason: "webhook deleted"}, nil
	case err != nil:
		return DeliverResult{}, storeUnavailable(attempt, err)
	}
	webhook, event := job.Webhook, job.Event
	start := models.AttemptStart{
		WorkspaceID: event.WorkspaceID, WebhookID: webhook.ID, EventID: event.ID, EventType: event.Type.Wire,
		Trigger: trigger, StartedAt: now, WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID,
		// Not the first scheduled attempt: Temporal retried it, or the
		// delivery has a record already (an earlier attempt, local or
		// lost with its worker), whose "sending" leftovers become unknown.
		Retry: trigger == models.TriggerScheduled && (attempt > 1 || job.Status != ""),
	}
	switch end, reason := models.BeforeAttempt(trigger, job.Status, webhook.Status); end {
	case models.EndDelivered:
		return DeliverResult{Outcome: OutcomeDelivered, Attempt: attempt, Reason: reason}, nil
	case models.EndSkipped:
		if job.Status != models.DeliverySkipped {
			if err := a.store.SkipDelivery(ctx, start, "skipped: the webhook was paused"); err != nil {
				return DeliverResult{}, storeUnavailable(attempt, err)
			}
			a.ended(trigger, end)
		}
		return DeliverResult{Outcome: OutcomeSkipped, Attempt: attempt, Reason: reason}, nil
	}
	var held heldSlots
	defer held.leave(-1)
	if busy := a.holdSlots(ctx, &held, trigger, info.IsLocalActivity, webhook.ID, event.WorkspaceID, attempt); busy != nil {
		return DeliverResult{}, busy
	}
	// The attempt's work (its throttle's wait, a token fetch, the POST and
	// a second try after a 401) has one deadline inside the activity's
	// timeout, so that its outcome is always written before Temporal gives
	// the attempt up and makes another: an attempt past its timeout would
	// be logged unknown and sent again.
	workCtx, cancelWork := attemptContext(ctx)
	defer cancelWork()
	release, err := a.throttle(workCtx, webhook, trigger, attempt)
	if err != nil {
		return DeliverResult{}, err
	}
	defer release()
	// Nothing has been sent yet: if the record cannot be written, the
	// attempt is retried rather than made unrecorded.
	ref, err := a.store.BeginAttempt(ctx, start)
	if err != nil {
		return DeliverResult{}, storeUnavailable(attempt, err)
	}

	started := time.Now()
	held.send(started)
	// The header numbers attempts as the log does: manual, recover and
	// test attempts count too.
	sent := a.send(workCtx, webhook, job.Secrets, event, ref.Number)
	requestTook := time.Since(started)
	held.leave(requestTook)
	release()
	if a.cfg.AfterSend != nil {
		a.cfg.AfterSend(ctx, in)
	}
	verdict := a.cfg.Retry.Decide(models.AttemptResult{
		Trigger: trigger, Position: ref.Scheduled, Delivered: sent.err == nil, StatusCode: sent.status,
		Blocked: errors.Is(sent.err, netguard.ErrBlocked), RetryAfter: sent.retryAfter,
	}, a.jitter())
	a.observe(event.Type.Wire, sent, requestTook)
	if verdict.End.Final() {
		a.ended(trigger, verdict.End)
	}
	res, fail := result(attempt, sent, requestTook, verdict, ref.Scheduled, nil)
	if fail != nil {
		logFailure(ctx, verdict, event, webhook, attempt, sent, fail)
	}
	// From here on the request has been made: failing to record it must
	// not fail, or repeat, the delivery. The record is written on a
	// context of its own, bounded apart from the attempt's. An outcome
	// that ends the delivery and could not be written goes back to the
	// workflow, which records it once the database answers
	// (RecordOutcome); one the schedule retries is settled by the next
	// attempt, which finds it sending and logs it unknown.
	recordCtx, cancelRecord := context.WithTimeout(context.WithoutCancel(ctx), RecordTimeout)
	defer cancelRecord()
	if end := a.record(recordCtx, ref, sent, requestTook, verdict, fail); end != nil && verdict.End.Final() {
		res, fail = result(attempt, sent, requestTook, verdict, ref.Scheduled, end)
	}
	a.recordOnWebhook(recordCtx, webhook, now, sent.err)
	if verdict.PauseWebhook {
		announce, err := a.store.PauseWebhook(recordCtx, webhook.WorkspaceID, webhook.ID, goneReason)
		if err != nil {
			return DeliverResult{}, storeUnavailable(attempt, err) // retried: the pause must not be lost
		}
		a.announce(ctx, announce)
	}
	return res, fail
}

const goneReason = "endpoint answered 410 Gone"

// RecordTimeout bounds the writing of an attempt's outcome; an attempt's
// own work ends that long before its activity's deadline.
const RecordTimeout = 5 * time.Second

// attemptContext is ctx with a deadline RecordTimeout before the
// activity's, leaving the outcome time to be written.
func attemptContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline := activity.GetInfo(ctx).Deadline
	if deadline.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, deadline.Add(-RecordTimeout))
}

// holdSlots takes, into held, the slots a scheduled attempt holds until its
// request ends: one of its webhook's in-flight bound and, made locally,
// one of its workspace's. At a bound it returns the busy error the attempt
// waits its turn with (what it took so far is left in held to release).
func (a *Activities) holdSlots(ctx context.Context, held *heldSlots, trigger models.AttemptTrigger, local bool, webhookID, workspaceID string, attempt int32) error {
	if trigger != models.TriggerScheduled {
		return nil
	}
	webhookSlot, slow := a.busy.acquire(ctx, webhookID)
	if webhookSlot == nil {
		return webhookBusy(attempt, slow, a.jitter())
	}
	held.add(a.busy, webhookID, webhookSlot)
	if local {
		localSlot, slow := a.local.acquire(ctx, workspaceID)
		if localSlot == nil {
			return webhookBusy(attempt, slow, a.jitter())
		}
		held.add(a.local, workspaceID, localSlot)
	}
	return nil
}

// record writes an attempt's outcome, the error Deliver returns for it
// (nil for a success) and the verdict's status to the log.
// It returns the outcome when it could not be written, nil when it was.
func (a *Activities) record(ctx context.Context, ref models.AttemptRef, sent sendResult, latency time.Duration, v models.Verdict, fail error) *models.AttemptEnd {
	end := models.AttemptEnd{
		AttemptRef: ref, Delivered: sent.err == nil, FinishedAt: a.now(), StatusCode: sent.status,
		LatencyMs: latency.Milliseconds(), ResponseBody: sent.body,
		RequestHeaders: sent.sent, ResponseHeaders: sent.got,
		Status: v.Status, KeepDueRetry: v.KeepDueRetry,
	}
	if fail != nil {
		end.Error = fail.Error()
	}
	if v.End == models.EndRetry {
		at := end.FinishedAt.Add(v.Wait)
		end.NextAttemptAt = &at
	}
	if err := a.store.FinishAttempt(ctx, end); err != nil {
		activity.GetLogger(ctx).Warn("record attempt outcome", "delivery_id", ref.DeliveryID, "attempt", ref.Number, "error", err)
		a.logWriteFailed("outcome")
		return &end
	}
	return nil
}

// RecordOutcome writes an attempt's outcome that Deliver could not
// (DeliverResult.Unrecorded, FailureDetails.Unrecorded): the workflow
// runs it, retried until the database answers, so that the delivery log
// shows how every delivery ended.
func (a *Activities) RecordOutcome(ctx context.Context, end models.AttemptEnd) error {
	if err := a.store.FinishAttempt(ctx, end); err != nil {
		return storeUnavailable(activity.GetInfo(ctx).Attempt, err)
	}
	return nil
}

// ended tells the observer that a delivery on the retry schedule ended.
func (a *Activities) ended(trigger models.AttemptTrigger, end models.End) {
	if a.cfg.Observer != nil && trigger == models.TriggerScheduled {
		a.cfg.Observer.ObserveDeliveryEnd(end)
	}
}

func (a *Activities) observe(eventType string, sent sendResult, latency time.Duration) {
	if a.cfg.Observer == nil {
		return
	}
	outcome := OutcomeDelivered
	if sent.err != nil {
		outcome = "failed"
	}
	a.cfg.Observer.ObserveAttempt(eventType, outcome, sent.status, latency)
}

// result is what Deliver returns for a verdict: the workflow reads the
// end from the error's type (ErrTypeGone pauses, any non-retryable one
// ends the delivery) and its details (FailureDetails).
func result(attempt int32, sent sendResult, latency time.Duration, v models.Verdict, position int, unrecorded *models.AttemptEnd) (DeliverResult, error) {
	if v.End == models.EndDelivered {
		return DeliverResult{Outcome: OutcomeDelivered, Attempt: attempt, StatusCode: sent.status, LatencyMs: latency.Milliseconds(), Unrecorded: unrecorded}, nil
	}
	details := FailureDetails{Attempt: attempt, StatusCode: sent.status, LatencyMs: latency.Milliseconds(), Unrecorded: unrecorded}
	// A receiver's failure is the delivery's outcome, not this worker's:
	// benign, so that the SDK logs it at DEBUG; Deliver logs it at the
	// level it deserves (a retry INFO, a delivery given up WARN).
	final := func(typ, msg string) error {
		return temporal.NewApplicationErrorWithOptions(msg, typ, temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{details},
			Category: temporal.ApplicationErrorCategoryBenign})
	}
	msg := sent.err.Error()
	switch v.End {
	case models.EndGone:
		return DeliverResult{}, final(ErrTypeGone, goneReason+"; webhook paused")
	case models.EndBlocked:
		return DeliverResult{}, final(ErrTypeBlocked, msg)
	case models.EndExhausted:
		return DeliverResult{}, final(ErrTypeExhausted, fmt.Sprintf("%s; gave up after %d attempts", msg, position))
	case models.EndOnce:
		return DeliverResult{}, final(ErrTypeHTTP, msg)
	}
	return DeliverResult{}, temporal.NewApplicationErrorWithOptions(msg, ErrTypeHTTP,
		temporal.ApplicationErrorOptions{NextRetryDelay: v.Wait, Details: []any{details}, Category: temporal.ApplicationErrorCategoryBenign})
}

// logFailure logs a failed attempt at what it means to an operator: INFO
// while the schedule retries it, WARN once the delivery is given up.
func logFailure(ctx context.Context, v models.Verdict, e models.Event, w models.Webhook, attempt int32, sent sendResult, fail error) {
	kv := []any{"workspace_id", e.WorkspaceID, "webhook_id", w.ID, "event_id", e.ID, "attempt", attempt, "status_code", sent.status, "error", fail.Error()}
	if v.End.Final() {
		activity.GetLogger(ctx).Warn("delivery given up", kv...)
		return
	}
	activity.GetLogger(ctx).Info("attempt failed; retrying", append(kv, "next_in", v.Wait)...)
}

// MaxStoreRetryDelay caps the wait between tries of a delivery whose
// bookkeeping could not reach the database, so that deliveries resume
// within a minute of the database coming back, however long it was down.
const MaxStoreRetryDelay = time.Minute

// storeUnavailable is the error of a try that failed before sending
// anything because the database did not answer: retried with a backoff
// capped at MaxStoreRetryDelay, without using up a retry of the schedule.
func storeUnavailable(attempt int32, err error) error {
	delay := MaxStoreRetryDelay
	if attempt >= 1 && attempt < 8 {
		delay = min(time.Second<<(attempt-1), MaxStoreRetryDelay)
	}
	// Benign: the SDK logs it at DEBUG, not as an ERROR an operator is
	// paged for (readiness and the API's 503s say the database is down).
	return temporal.NewApplicationErrorWithOptions(err.Error(), ErrTypeStore,
		temporal.ApplicationErrorOptions{NextRetryDelay: delay, Cause: err, Category: temporal.ApplicationErrorCategoryBenign})
}

func (a *Activities) logWriteFailed(record string) {
	if a.cfg.Observer != nil {
		a.cfg.Observer.ObserveLogWriteFailure(record)
	}
}

// recordOnWebhook keeps the webhook's lastAttemptedAt, lastErrorAt and
// lastErrorMessage current and runs auto-pause. It is best effort; a
// success within a second of the last one recorded for the webhook changes
// nothing worth a write.
func (a *Activities) recordOnWebhook(ctx context.Context, webhook models.Webhook, at time.Time, sendErr error) {
	webhookID := webhook.ID
	errMsg := ""
	if sendErr != nil {
		errMsg = sendErr.Error()
		a.recent.forget(webhookID) // the next success must end the run of failures
	} else if !a.recent.due(webhookID, at) {
		return
	}
	logger := activity.GetLogger(ctx)
	announce, err := a.store.RecordAttempt(ctx, webhook.WorkspaceID, webhookID, at, errMsg, a.cfg.PauseAfter)
	if err != nil {
		logger.Warn("record attempt on webhook", "webhook_id", webhookID, "error", err)
		a.logWriteFailed("webhook")
	}
	if len(announce) > 0 {
		logger.Warn("webhook paused: every attempt failed for the auto-pause window", "webhook_id", webhookID, "window", a.cfg.PauseAfter.String())
		a.announce(ctx, announce)
	}
}

// Announcer publishes events the service emits about itself: stores them
// (again: publishing is idempotent) and starts their delivery.
type Announcer interface {
	Publish(ctx context.Context, events []models.Event) error
}

// announce publishes the webhook.paused events of a pause. They are stored
// already, with the pause; one not published here is by the worker's
// sweep of announcements within a minute, so a failure is only logged.
func (a *Activities) announce(ctx context.Context, events []models.Event) {
	if a.cfg.Announcer == nil || len(events) == 0 {
		return
	}
	if err := a.cfg.Announcer.Publish(ctx, events); err != nil {
		activity.GetLogger(ctx).Warn("announce webhook paused; the sweep will", "event_id", events[0].ID, "error", err)
	}
}

// webhookBusy is the error of a scheduled attempt that found its webhook
// (or workspace) at its bound of attempts in flight in this worker: it
// waits its turn and the schedule does not count it. Behind a slow
// endpoint, whose attempts hold their slots for seconds, the wait starts at
// five seconds and grows to thirty; behind a fast one that is merely busy,
// at half a second, growing to ten. Jittered, so that waiting attempts
// spread out.
func webhookBusy(attempt int32, slow bool, u float64) error {
	base, ceiling := 500*time.Millisecond, 10*time.Second
	if slow {
		base, ceiling = 5*time.Second, 30*time.Second
	}
	wait := ceiling
	if attempt >= 1 && attempt < 8 {
		wait = min(base<<(attempt-1), ceiling)
	}
	wait = time.Duration(float64(wait) * (0.75 + 0.5*u))
	// Flow control, not a failure: benign, so the SDK logs it at DEBUG.
	return temporal.NewApplicationErrorWithOptions("the webhook has the most attempts in flight allowed; waiting its turn", ErrTypeBusy,
		temporal.ApplicationErrorOptions{NextRetryDelay: wait, Category: temporal.ApplicationErrorCategoryBenign})
}

// sendResult is what one HTTP attempt got: the status code (0 without a
// response), the start of the response body, a Retry-After wait when a 429
// or 503 carries one, and an error for anything but a 2xx.
type sendResult struct {
	status     int
	body       string
	retryAfter time.Duration
	err        error
	// sent and got are the request's headers as the log shows them
	// (secrets masked) and the response's.
	sent, got map[string]string
}

// send makes the HTTP attempt. An OAuth2 webhook's token is had first; if
// the endpoint answers 401 to it, a new one is fetched and the request made
// once more before the attempt counts as failed.
func (a *Activities) send(ctx context.Context, w models.Webhook, secrets []string, e models.Event, attempt int) sendResult {
	body := e.Body()
	sentAt := a.now()
	signature, err := signing.Header(secrets, e.ID, sentAt, body)
	if err != nil {
		return sendResult{err: fmt.Errorf("sign: %w", err)}
	}
	client, err := a.clientFor(w)
	if err != nil {
		return sendResult{err: &deliveryError{msg: "the webhook's client certificate cannot be used: " + err.Error(), cause: err}}
	}
	h := http.Header{}
	setEndpointHeaders(h, w)
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", a.cfg.UserAgent)
	h.Set("webhook-id", e.ID)
	h.Set("webhook-timestamp", strconv.FormatInt(sentAt.Unix(), 10))
	h.Set("webhook-signature", signature)
	h.Set("X-TidySupport-Event", e.Type.Wire)
	h.Set("X-TidySupport-Webhook-Id", w.ID)
	h.Set("X-TidySupport-Attempt", strconv.Itoa(attempt))
	var token string
	if w.Auth != nil && w.Auth.Type == models.AuthOAuth2 {
		if token, err = a.oauth.token(ctx, w, ""); err != nil {
			return sendResult{err: err, sent: shownHeaders(h, w)}
		}
		h.Set("Authorization", "Bearer "+token)
	}
	sent := shownHeaders(h, w)

	resp, err := a.post(ctx, client, w, h, body)
	if err == nil && resp.StatusCode == http.StatusUnauthorized && token != "" {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, models.MaxResponseBody))
		resp.Body.Close()
		if token, err = a.oauth.token(ctx, w, token); err != nil {
			return sendResult{err: err, sent: sent}
		}
		h.Set("Authorization", "Bearer "+token)
		resp, err = a.post(ctx, client, w, h, body)
	}
	if err != nil {
		// The raw transport error, for debugging; logFailure reports the
		// attempt's outcome.
		activity.GetLogger(ctx).Debug("delivery request failed", "webhook_id", w.ID, "event_id", e.ID, "error", err)
		var de *deliveryError
		switch {
		case errors.As(err, &de):
			return sendResult{err: err, sent: sent}
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			// The attempt's own deadline (attemptContext), not the request's.
			return sendResult{err: &deliveryError{msg: "timed out: the attempt ran out of time (its throttle wait, token fetches and requests share one deadline, " +
				RecordTimeout.String() + " inside the attempt's timeout)", cause: err}, sent: sent}
		}
		return sendResult{err: describeTransportError(err, a.cfg.Timeout), sent: sent}
	}
	defer resp.Body.Close()
	// Read what the log keeps, which also lets a short answer's connection
	// be reused; never more.
	head, _ := io.ReadAll(io.LimitReader(resp.Body, models.MaxResponseBody))
	res := sendResult{status: resp.StatusCode, body: string(head), sent: sent, got: flatHeaders(resp.Header)}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return res
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		res.err = fmt.Errorf("endpoint answered %d %s (redirects are not followed)", resp.StatusCode, http.StatusText(resp.StatusCode))
		return res
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		res.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), sentAt)
	}
	res.err = fmt.Errorf("endpoint answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	return res
}

// post sends one delivery request with headers h.
func (a *Activities) post(ctx context.Context, client *http.Client, w models.Webhook, h http.Header, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		activity.GetLogger(ctx).Warn("delivery request not built", "webhook_id", w.ID, "error", err)
		return nil, &deliveryError{msg: "the webhook's URL could not be used", cause: err}
	}
	req.Header = h.Clone()
	return client.Do(req)
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent or bad.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		// Beyond about 68 years the product would overflow a Duration;
		// the caller caps the wait far below either.
		return time.Duration(min(max(secs, 0), 1<<31)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// deliveryError is a failed request as the customer sees it: a short,
// classified message naming no internal host or address. The cause, for
// errors.Is and the operator's log, is not part of the message.
type deliveryError struct {
	msg   string
	cause error
}

func (e *deliveryError) Error() string { return e.msg }
func (e *deliveryError) Unwrap() error { return e.cause }

// describeTransportError classifies a request that got no HTTP answer.
func describeTransportError(err error, timeout time.Duration) error {
	var (
		blocked  *netguard.BlockedError
		dnsErr   *net.DNSError
		netErr   net.Error
		hostErr  x509.HostnameError
		authErr  x509.UnknownAuthorityError
		certErr  x509.CertificateInvalidError
		recErr   tls.RecordHeaderError
		alertErr tls.AlertError
		verErr   *tls.CertificateVerificationError
	)
	msg := "request failed"
	switch {
	case errors.As(err, &blocked):
		msg = "the address is not allowed: " + blocked.Reason
	case errors.As(err, &dnsErr):
		msg = "could not resolve the host"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		msg = fmt.Sprintf("timed out after %s", timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		msg = "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		msg = "connection reset by the endpoint"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		msg = "the host is unreachable"
	case errors.As(err, &hostErr):
		msg = "TLS: certificate not valid for host"
	case errors.As(err, &authErr):
		msg = "TLS: certificate signed by an unknown authority"
	case errors.As(err, &certErr):
		msg = "TLS: certificate not valid (expired, not yet valid or not for serving)"
	case errors.As(err, &verErr):
		msg = "TLS: certificate not valid"
	case errors.As(err, &recErr):
		msg = "TLS: the endpoint did not answer with TLS"
	case errors.As(err, &alertErr):
		msg = "TLS: handshake refused by the endpoint"
	// An alert the endpoint sends is a value of crypto/tls's unexported
	// alert type behind a "remote error" *net.OpError; its text is all
	// there is to read.
	case strings.Contains(err.Error(), "remote error: tls: certificate required"):
		msg = "TLS: the endpoint requires a client certificate (mtls auth)"
	case strings.Contains(err.Error(), "remote error: tls: bad certificate"),
		strings.Contains(err.Error(), "remote error: tls: unknown certificate authority"),
		strings.Contains(err.Error(), "remote error: tls: certificate expired"):
		msg = "TLS: the endpoint refused the client certificate"
	case strings.Contains(err.Error(), "remote error: tls: "):
		msg = "TLS: handshake refused by the endpoint"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		msg = "the endpoint closed the connection without answering"
	}
	return &deliveryError{msg: msg, cause: err}
}

// RecoverPageInput asks for the next page of deliveries a recover
// redelivers: failed and skipped deliveries of the webhook created in
// [Since, Until), after After: a page's Cursor ("" for the first), or a
// delivery id (a recover started before pages had cursors).
type RecoverPageInput struct {
	WorkspaceID string
	WebhookID   string
	Since       time.Time
	Until       time.Time
	After       string
	Limit       int
}

// RecoverItem is one delivery to redeliver. ConversationID is set where
// the webhook takes conversations in order: a recover replays one
// conversation's items one after the other. Cursor is where the next page
// starts after it.
type RecoverItem struct {
	DeliveryID     string
	EventID        string
	ConversationID string `json:",omitempty"`
	Cursor         string `json:",omitempty"`
}

// RecoverPageResult is one page, oldest first; empty at the end.
type RecoverPageResult struct {
	Items []RecoverItem
}

// seqCursor prefixes a recover page's cursor: the place of the last event
// listed, in the order events were stored.
const seqCursor = "seq:"

// RecoverPage lists the next page of a recover, in the order the events
// were stored.
func (a *Activities) RecoverPage(ctx context.Context, in RecoverPageInput) (RecoverPageResult, error) {
	if in.WorkspaceID == "" {
		// Only a page asked for before pages named the workspace: the
		// recover ends, visibly, and can be started again.
		return RecoverPageResult{}, temporal.NewNonRetryableApplicationError("recover page without a workspace: start the recover again", "MissingWorkspace", nil)
	}
	if in.After != "" && !strings.HasPrefix(in.After, seqCursor) {
		// A recover paging by delivery id goes on as it began.
		ds, err := a.store.RecoverableDeliveries(ctx, in.WorkspaceID, in.WebhookID, in.Since, in.Until, in.After, in.Limit)
		if err != nil {
			return RecoverPageResult{}, err
		}
		out := RecoverPageResult{Items: make([]RecoverItem, len(ds))}
		for i, d := range ds {
			out.Items[i] = RecoverItem{DeliveryID: d.ID, EventID: d.EventID}
		}
		return out, nil
	}
	var after int64
	if in.After != "" {
		n, err := strconv.ParseInt(strings.TrimPrefix(in.After, seqCursor), 10, 64)
		if err != nil {
			return RecoverPageResult{}, temporal.NewNonRetryableApplicationError("recover page: bad cursor "+in.After, "BadCursor", err)
		}
		after = n
	}
	rs, err := a.store.RecoverableInOrder(ctx, in.WorkspaceID, in.WebhookID, in.Since, in.Until, after, in.Limit)
	if err != nil {
		return RecoverPageResult{}, err
	}
	out := RecoverPageResult{Items: make([]RecoverItem, len(rs))}
	for i, r := range rs {
		out.Items[i] = RecoverItem{DeliveryID: r.DeliveryID, EventID: r.EventID, ConversationID: r.ConversationID, Cursor: seqCursor + strconv.FormatInt(r.Seq, 10)}
	}
	return out, nil
}
