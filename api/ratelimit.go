package api

import (
	"math"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/tidysupport/tidyhooks/models"
)

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
