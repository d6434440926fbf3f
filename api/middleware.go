package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidysupport/tidyhooks/models"
)

const keyContext = "tidyhooks.key"

// authenticate resolves the bearer key; a missing, unknown or revoked key
// is 401. A client address that keeps failing is answered 429 before any
// lookup, so that guessing keys costs the database nothing.
//
// The limit is on failures, not on the address: a key this process saw
// valid lately is looked up even while its address is limited, so that
// someone guessing keys from behind the same NAT or proxy does not lock
// out the address's good clients.
func (s *Server) authenticate(c *gin.Context) {
	client := c.ClientIP()
	now := time.Now()
	value, bearer := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	value = strings.TrimSpace(value)
	if wait := s.authFailures.empty(client, now); wait > 0 && !(bearer && s.goodKeys.Contains(keyDigest(value))) {
		s.fail(c, &rateLimited{retryAfter: wait, what: "failed authentications from this address"})
		return
	}
	if c.GetHeader("Authorization") == "" {
		if token, err := c.Cookie(portalCookie); err == nil && token != "" {
			s.authenticatePortal(c, token)
			return
		}
	}
	if !bearer || value == "" {
		s.authFailures.take(client, now)
		s.fail(c, models.ErrUnauthorized)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), lookupTimeout)
	defer cancel()
	key, err := s.store.APIKeyByValue(ctx, value)
	if err != nil {
		if isNotFound(err) {
			s.goodKeys.Remove(keyDigest(value)) // revoked
			s.authFailures.take(client, now)
			err = models.ErrUnauthorized
		}
		s.fail(c, err)
		return
	}
	s.goodKeys.Add(keyDigest(value), struct{}{})
	c.Set(keyContext, key)
	c.Next()
}

// keyDigest names a key value in memory without holding it.
func keyDigest(value string) [32]byte { return sha256.Sum256([]byte(value)) }

// Keys seen valid are remembered this long, this many at most.
const (
	goodKeyTTL = 10 * time.Minute
	goodKeys   = 10_000
)

// newGoodKeys is the memory of keys seen valid lately: an LRU with
// expiry, which drops the least recently used when full, not everything.
func newGoodKeys() *expirable.LRU[[32]byte, struct{}] {
	return expirable.NewLRU[[32]byte, struct{}](goodKeys, nil, goodKeyTTL)
}

// lookupTimeout bounds the key lookup, so that a database that does not
// answer makes a 503, not a request that hangs.
const lookupTimeout = 5 * time.Second

// require lets through keys holding scope; management scope also needs a
// key bound to a workspace.
func (s *Server) require(scope string) gin.HandlerFunc {
	return func(c *gin.Context) {
		key := apiKey(c)
		if !key.Has(scope) {
			s.fail(c, fmt.Errorf("%w: this route needs %s", models.ErrForbidden, scope))
			return
		}
		if scope == models.ScopeAPIUser && key.WorkspaceID == "" {
			s.fail(c, fmt.Errorf("%w: this route needs a key bound to a workspace", models.ErrForbidden))
			return
		}
		c.Next()
	}
}

func apiKey(c *gin.Context) models.APIKey {
	k, _ := c.Get(keyContext)
	key, _ := k.(models.APIKey)
	return key
}

func (s *Server) recoverer(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			s.fail(c, fmt.Errorf("panic: %v", r))
		}
	}()
	c.Next()
}

type metrics struct {
	requests *prometheus.HistogramVec
	events   prometheus.Counter
	rejected *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tidyhooks_http_request_duration_seconds",
			Help:    "HTTP requests served by the API, by route, method and status.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method", "status"}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tidyhooks_events_accepted_total",
			Help: "Events accepted for delivery.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidyhooks_events_rejected_total",
			Help: "Requests to emit events that were refused, by the error code answered (invalid_request, unauthorized, payload_too_large, conflict, rate_limited, unavailable, …).",
		}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.events, m.rejected)
	}
	return m
}

func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	elapsed := time.Since(start)
	s.metrics.requests.WithLabelValues(route, c.Request.Method, strconv.Itoa(c.Writer.Status())).Observe(elapsed.Seconds())
	s.logger.DebugContext(c.Request.Context(), "request", "request_id", c.GetString(requestIDContext), "method", c.Request.Method,
		"route", route, "status", c.Writer.Status(), "duration_ms", elapsed.Milliseconds())
}

func (s *Server) healthz(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }

func (s *Server) readyz(c *gin.Context) {
	ctx := c.Request.Context()
	if err := s.store.Ping(ctx); err != nil {
		s.fail(c, fmt.Errorf("%w: database: %w", models.ErrUnavailable, err))
		return
	}
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(ctx); err != nil {
			s.fail(c, fmt.Errorf("%w: temporal: %w", models.ErrUnavailable, err))
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

const requestIDContext = "tidyhooks.request_id"

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// requestID keeps a well-formed X-Request-Id from the client or makes one,
// answers with it, and makes it available to logs.
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-Id")
	if !requestIDPattern.MatchString(id) {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		id = "req_" + hex.EncodeToString(b)
	}
	c.Set(requestIDContext, id)
	c.Header("X-Request-Id", id)
	// Every answer is what its Content-Type says: no browser sniffs a
	// JSON error into a page.
	c.Header("X-Content-Type-Options", "nosniff")
	c.Next()
}

// errMediaType is a body that is not JSON (415).
var errMediaType = errors.New("unsupported media type")

// noStore keeps every API answer out of caches: some carry secrets.
func (s *Server) noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Next()
}

// wellFormed refuses a query string that does not parse (400) and a body
// that is not declared as JSON (415), before any handler reads either.
func (s *Server) wellFormed(c *gin.Context) {
	if _, err := url.ParseQuery(c.Request.URL.RawQuery); err != nil {
		s.fail(c, &badRequest{msg: "the query string is malformed: " + err.Error()})
		return
	}
	if c.Request.ContentLength != 0 && c.Request.Body != nil && c.Request.Body != http.NoBody {
		mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
		if err != nil || mt != "application/json" {
			s.fail(c, fmt.Errorf("%w: send the body as Content-Type: application/json", errMediaType))
			return
		}
	}
	c.Next()
}
