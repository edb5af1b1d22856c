package server

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/re-factor/resources/auth"
)

// RateLimit is a token bucket per account: RPS requests a second on
// average, bursts of up to Burst. Each replica keeps its own buckets, so
// the limit a client sees is per replica. A zero RPS turns it off.
type RateLimit struct {
	RPS   float64
	Burst int
}

// limiterIdle is how long an account's bucket is kept unused. By then it
// has refilled, so forgetting it changes nothing for the client.
const limiterIdle = 10 * time.Minute

// limiters holds the buckets. Only authenticated accounts get one, so its
// size is bounded by the accounts that hold valid tokens.
type limiters struct {
	limit rate.Limit
	burst int

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// newLimiters returns nil when rl is off; a nil *limiters allows everything.
func newLimiters(rl RateLimit) *limiters {
	if rl.RPS <= 0 {
		return nil
	}
	return &limiters{limit: rate.Limit(rl.RPS), burst: max(rl.Burst, 1), buckets: map[string]*bucket{}}
}

// wait returns how long account must wait before its request would be
// allowed, taking a token when the answer is zero.
func (l *limiters) wait(account string, now time.Time) time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b, ok := l.buckets[account]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[account] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		// Refused requests do not queue up debt for later ones.
		r.CancelAt(now)
		return d
	}
	return 0
}

// sweep drops idle buckets, at most once per limiterIdle.
func (l *limiters) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < limiterIdle {
		return
	}
	l.lastSweep = now
	for account, b := range l.buckets {
		if now.Sub(b.seen) > limiterIdle {
			delete(l.buckets, account)
		}
	}
}

// rateLimited is the 429 for an account over its limit; the Retry-After
// header (whole seconds, rounded up) is set on c's response.
func rateLimited(c echo.Context, wait time.Duration) error {
	secs := int64(math.Ceil(wait.Seconds()))
	c.Response().Header().Set(echo.HeaderRetryAfter, strconv.FormatInt(max(secs, 1), 10))
	return &echo.HTTPError{Code: http.StatusTooManyRequests,
		Message: "rate limit exceeded for this account; retry after the Retry-After seconds"}
}

// limitAccounts refuses requests of an account over its limit with 429. It
// runs after authentication, which puts the account in the context; routes
// without an account (health, spec, docs) are not limited.
func limitAccounts(l *limiters) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, ok := c.Request().Context().Value(principalKey{}).(auth.Principal)
			if ok && p.AccountID != "" {
				if d := l.wait(p.AccountID, time.Now()); d > 0 {
					return rateLimited(c, d)
				}
			}
			return next(c)
		}
	}
}
