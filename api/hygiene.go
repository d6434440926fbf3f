package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/tidysupport/tidyhooks/models"
)

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
	c.Next()
}

// rateLimited carries how long the client should wait, and what was
// limited ("" for the key's requests).
type rateLimited struct {
	retryAfter int
	what       string
}

func (e *rateLimited) Error() string        { return models.ErrRateLimited.Error() }
func (e *rateLimited) Is(target error) bool { return target == models.ErrRateLimited }

// limiter holds one token bucket per API key.
type limiter struct {
	mu      sync.Mutex
	rps     float64
	buckets map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(rps float64) *limiter {
	return &limiter{rps: rps, buckets: map[string]*bucket{}}
}

// bucketOf returns key's bucket, made full if new. l.mu must be held.
func (l *limiter) bucketOf(key string, now time.Time) *bucket {
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) > 100_000 { // forget keys idle for a while
			for k, v := range l.buckets {
				if now.Sub(v.seen) > 10*time.Minute {
					delete(l.buckets, k)
				}
			}
		}
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.rps), int(math.Max(2*l.rps, 1)))}
		l.buckets[key] = b
	}
	b.seen = now
	return b
}

// wait returns 0 if key may make a request now, taking a token, or the
// seconds to wait.
func (l *limiter) wait(key string, now time.Time) int {
	if l.rps < 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.bucketOf(key, now).lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return int(math.Ceil(d.Seconds()))
	}
	return 0
}

// empty returns 0 if key has a token left, without taking it, or the
// seconds until it has one.
func (l *limiter) empty(key string, now time.Time) int {
	if l.rps < 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.bucketOf(key, now).lim
	if missing := 1 - lim.TokensAt(now); missing > 0 {
		return int(math.Ceil(missing / l.rps))
	}
	return 0
}

// take uses up one of key's tokens, if it has one.
func (l *limiter) take(key string, now time.Time) {
	if l.rps < 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bucketOf(key, now).lim.AllowN(now, 1)
}

// rateLimit answers 429 with Retry-After when a key exceeds its rate.
func (s *Server) rateLimit(c *gin.Context) {
	if wait := s.limits.wait(apiKey(c).ID, time.Now()); wait > 0 {
		s.fail(c, &rateLimited{retryAfter: wait})
		return
	}
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
