package api

import (
	"crypto/rand"
	"encoding/hex"
	"math"
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

// rateLimited carries how long the client should wait.
type rateLimited struct{ retryAfter int }

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

// wait returns 0 if keyID may make a request now, or the seconds to wait.
func (l *limiter) wait(keyID string, now time.Time) int {
	if l.rps < 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[keyID]
	if b == nil {
		if len(l.buckets) > 100_000 { // forget keys idle for a while
			for k, v := range l.buckets {
				if now.Sub(v.seen) > 10*time.Minute {
					delete(l.buckets, k)
				}
			}
		}
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.rps), int(math.Max(2*l.rps, 1)))}
		l.buckets[keyID] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return int(math.Ceil(d.Seconds()))
	}
	return 0
}

// rateLimit answers 429 with Retry-After when a key exceeds its rate.
func (s *Server) rateLimit(c *gin.Context) {
	if wait := s.limits.wait(apiKey(c).ID, time.Now()); wait > 0 {
		s.fail(c, &rateLimited{retryAfter: wait})
		return
	}
	c.Next()
}
