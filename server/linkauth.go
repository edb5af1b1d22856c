package server

import (
	"context"
	"errors"
	"hash/maphash"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/auth"
	"github.com/re-factor/resources/catalog"
	"github.com/re-factor/resources/server/validation"
)

// Links reach the server without an account's token: a download link's
// token is its URL's last segment, an upload link's is sent as a bearer
// token. Both are told apart from everything else by their prefix, on the
// headers, before any body is read; neither ever reaches a log (the access
// log names the link's id).

// linkMiss marks the answer to a token that found no live link, which the
// per-address limit counts.
type linkMiss struct{ error }

func (m linkMiss) Unwrap() error { return m.error }

// errNoLink is the 404 of a download link that is not live: unknown,
// expired, used up, revoked, or of a deleted resource all read the same.
func errNoLink(cause error) error {
	return linkMiss{&echo.HTTPError{Code: http.StatusNotFound, Message: "link not found", Internal: cause}}
}

// errUploadLink is the 401 of an upload link's token that is not live.
func errUploadLink() error {
	return linkMiss{auth.InvalidToken("upload link is not valid: unknown, expired, used up or revoked")}
}

type uploadLinkKey struct{}

// UploadLinkOf returns the upload link the request whose context ctx is
// was authenticated by, if any: how the resumable upload routes learn that
// their caller holds an upload link rather than an account's token (its
// principal is then the link's account, with the link's Subject), so that
// they apply its rules as createResource does: catalog.ReserveUpload at the
// upload's creation, ReleaseUpload when it fails or expires, and the
// link's tags on the resource it completes.
func UploadLinkOf(ctx context.Context) (resources.UploadLink, bool) {
	l, ok := ctx.Value(uploadLinkKey{}).(resources.UploadLink)
	return l, ok
}

// uploadLinkToken returns the token of an Authorization header that
// carries an upload link's.
func uploadLinkToken(authorization string) (string, bool) {
	token, err := auth.BearerToken(authorization)
	return token, err == nil && strings.HasPrefix(token, catalog.UploadTokenPrefix)
}

// uploadsPathPrefix starts the routes of resumable uploads (tus), which
// accept an upload link's token as createResource does.
const uploadsPathPrefix = "/v1/uploads"

// acceptsUploadLink reports whether op takes an upload link's token:
// createResource and the resumable upload routes; every other route
// answers it 401.
func acceptsUploadLink(c echo.Context, op *validation.Operation) bool {
	return strings.EqualFold(op.ID, streamedCreate) || c.Path() == uploadsPathPrefix || strings.HasPrefix(c.Path(), uploadsPathPrefix+"/")
}

// continuesUpload reports whether c's request goes on with a resumable
// upload (HEAD, PATCH, DELETE of /v1/uploads/{id}), which took its link's
// use when it was created: the link need not have another.
func continuesUpload(c echo.Context) bool {
	return strings.HasPrefix(c.Path(), uploadsPathPrefix+"/")
}

// authenticateUploadLink authenticates a request to op by an upload link's
// token: a principal of the link's account whose subject is the link, and
// the link itself, whose rules the handler applies.
func (s *Server) authenticateUploadLink(c echo.Context, op *validation.Operation, token string, next echo.HandlerFunc) error {
	if !acceptsUploadLink(c, op) {
		return auth.InvalidToken("an upload link's token is accepted by POST /v1/resources and the upload routes only")
	}
	r := c.Request()
	find := s.catalog.FindUploadLink
	if continuesUpload(c) {
		find = s.catalog.FindUploadLinkInUse
	}
	l, err := find(r.Context(), token)
	if errors.Is(err, resources.ErrNotFound) {
		return errUploadLink()
	}
	if err != nil {
		return err
	}
	noteLink(r.Context(), l.ID)
	ctx := withPrincipal(r.Context(), auth.Principal{AccountID: l.AccountID, Subject: l.Subject()})
	c.SetRequest(r.WithContext(context.WithValue(ctx, uploadLinkKey{}, l)))
	return next(c)
}

// linkNote carries the id of the link a request used to the access log.
type linkNote struct{ id string }

type linkNoteKey struct{}

// noteLink records, for the access log, that ctx's request used link id.
func noteLink(ctx context.Context, id string) {
	if n, ok := ctx.Value(linkNoteKey{}).(*linkNote); ok {
		n.id = id
	}
}

// linkIDOf returns the id noteLink recorded for c's request, "" for none.
func linkIDOf(c echo.Context) string {
	if n, ok := c.Get(linkNoteKeyName).(*linkNote); ok {
		return n.id
	}
	return ""
}

const linkNoteKeyName = "link"

// isLinkRequest reports whether r carries a link's token: a download
// link's URL, or an upload link's bearer token.
func isLinkRequest(r *http.Request) bool {
	if strings.HasPrefix(r.URL.Path, linkPathPrefix) {
		return true
	}
	_, ok := uploadLinkToken(r.Header.Get(echo.HeaderAuthorization))
	return ok
}

// guardLinks prepares the requests that carry a link's token: a note for
// the access log, and the limit on tokens that find nothing. An address
// over its limit gets 429 before any lookup; each answer that found no
// link takes from it. Requests that find their link take nothing, so a
// busy client of good links (a model provider fetching many) is never
// slowed.
func guardLinks(l *addressLimiter) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if !isLinkRequest(r) {
				return next(c)
			}
			note := &linkNote{}
			c.Set(linkNoteKeyName, note)
			c.SetRequest(r.WithContext(context.WithValue(r.Context(), linkNoteKey{}, note)))
			addr, now := c.RealIP(), time.Now()
			if d := l.wait(addr, now); d > 0 {
				c.Response().Header().Set(echo.HeaderRetryAfter, strconv.FormatInt(max(int64(math.Ceil(d.Seconds())), 1), 10))
				return &echo.HTTPError{Code: http.StatusTooManyRequests,
					Message: "too many requests with unknown links from this address; retry after the Retry-After seconds"}
			}
			err := next(c)
			if errors.As(err, new(linkMiss)) {
				l.miss(addr, now)
			}
			return err
		}
	}
}

// addressSlots is how many token buckets addressLimiter keeps: a fixed
// number, so that anonymous traffic from any number of addresses never
// grows memory. Addresses share a bucket by a hash with a random seed,
// which a client cannot aim at another's.
const addressSlots = 4096

// addressLimiter is a token bucket per client address (an IPv6 address
// counts by its /64, what one host is usually given) for link requests
// that find nothing. A nil *addressLimiter limits nothing.
type addressLimiter struct {
	limit rate.Limit
	burst int
	seed  maphash.Seed
	mu    sync.Mutex
	slots [addressSlots]*rate.Limiter
}

// newAddressLimiter returns nil when rl is off.
func newAddressLimiter(rl RateLimit) *addressLimiter {
	if rl.RPS <= 0 {
		return nil
	}
	return &addressLimiter{limit: rate.Limit(rl.RPS), burst: max(rl.Burst, 1), seed: maphash.MakeSeed()}
}

func (l *addressLimiter) slot(addr string) *rate.Limiter {
	if ip := net.ParseIP(addr); ip != nil && ip.To4() == nil {
		addr = ip.Mask(net.CIDRMask(64, 128)).String()
	}
	i := maphash.String(l.seed, addr) % addressSlots
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.slots[i] == nil {
		l.slots[i] = rate.NewLimiter(l.limit, l.burst)
	}
	return l.slots[i]
}

// wait returns how long addr must wait before its next link request, zero
// when it may go now. It takes nothing: miss does.
func (l *addressLimiter) wait(addr string, now time.Time) time.Duration {
	if l == nil {
		return 0
	}
	tokens := l.slot(addr).TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(l.limit) * float64(time.Second))
}

// miss takes one token of addr's bucket for a request that found no link.
func (l *addressLimiter) miss(addr string, now time.Time) {
	if l != nil {
		l.slot(addr).AllowN(now, 1)
	}
}
