package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/re-factor/resources/auth"
	"github.com/re-factor/resources/catalog"
	"github.com/re-factor/resources/gen"
	"github.com/re-factor/resources/server/validation"
	"github.com/re-factor/resources/webhooks"
)

// Config holds what the HTTP layer depends on.
type Config struct {
	// Catalog serves every operation on resources and the readiness probe;
	// its MaxContentBytes caps request bodies to match.
	Catalog  *catalog.Service
	Verifier *auth.Verifier
	Logger   *slog.Logger
	// Metrics, when set, counts every request; with ServeMetrics it is
	// also served at GET /metrics (main serves it on METRICS_ADDR instead
	// when that is set).
	Metrics      *Metrics
	ServeMetrics bool
	// CORSAllowedOrigins lists the browser origins allowed to call the
	// API ("*" for any); empty turns CORS off.
	CORSAllowedOrigins []string
	// RateLimit, when its RPS is set, limits each account's requests
	// (429 with Retry-After beyond); off by default.
	RateLimit RateLimit
	// Links (links.go): PublicURL, when set, starts every download link's
	// URL (scheme, host and any path prefix, no trailing "/"), else the
	// request's scheme and host do; LinkRedirect answers downloads through
	// links with 302 to a storage URL signed for at most a minute (the
	// bucket must sign: New fails otherwise); LinkMissLimit, when its RPS
	// is set, limits per client address the link requests that find no
	// link.
	PublicURL     string
	LinkRedirect  bool
	LinkMissLimit RateLimit
	// Drain, when set, is how main tells the server it is shutting down
	// (drain.go); without it the server never drains.
	Drain *Drain
	// EventsHeartbeat is how often an idle event stream sends a comment;
	// default DefaultHeartbeat.
	EventsHeartbeat time.Duration
	// Webhooks serves the webhook routes; without it they answer 503.
	Webhooks *webhooks.Service
}

// New builds the echo instance that main serves and tests drive: cheap
// refusals on the headers (size, type, authentication, rate), then the
// request validator, then the strict handlers, with one error handler
// rendering every failure as {"error": "..."}. Nothing reads a body before
// its request is authenticated and within its account's rate.
func New(cfg Config) (*echo.Echo, error) {
	if cfg.Catalog == nil || cfg.Verifier == nil {
		return nil, errors.New("server: Config needs Catalog and Verifier")
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	if _, err := servedSpec(); err != nil {
		return nil, fmt.Errorf("server: prepare served spec: %w", err)
	}
	v, err := validation.New(validation.Config{Streamed: append([]string{streamedCreate}, uploadOps...), HandlerPatterns: []string{"DataURL"}})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s := &Server{catalog: cfg.Catalog, verifier: cfg.Verifier, log: cfg.Logger, validator: v,
		contentRule: v.Rule("DataURL"), drain: cfg.Drain,
		publicURL: strings.TrimSuffix(cfg.PublicURL, "/"), linkRedirect: cfg.LinkRedirect,
		heartbeat: cmp.Or(cfg.EventsHeartbeat, DefaultHeartbeat), webhooks: cfg.Webhooks}
	if cfg.LinkRedirect {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := cfg.Catalog.CanPresign(ctx); err != nil {
			return nil, fmt.Errorf("server: LINK_REDIRECT=storage needs a bucket that signs URLs: %w", err)
		}
	}
	maxContent := cfg.Catalog.MaxContentBytes()
	maxBody := MaxBodyBytes(maxContent)
	tus, err := s.newUploads()
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	uploads := uploadRoutes{tus}
	maxUploadBody := uploadBodyLimit(cfg.Catalog)

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	// Behind a proxy on a loopback or private address, the client is the
	// one X-Forwarded-For names; a direct client's header is ignored. Only
	// the per-address limit of link requests asks (guardLinks).
	e.IPExtractor = echo.ExtractIPFromXFFHeader()
	e.Use(chain(
		// Before anything decodes the query.
		keepPlusInTimestamps,
		// Outside every latency: time spent draining a refused body is
		// nobody's.
		lingerAfterEarlyAnswer(2*maxBody),
		optional(cfg.Metrics != nil, cfg.Metrics.middleware),
		compressResponses(),
		requestID,
		s.accessLog,
		recoverPanic,
		clientGone,
		securityHeaders,
		closeWhenDraining(cfg.Drain),
		// Before anything that can refuse a request, so a browser can read
		// every error.
		optional(len(cfg.CORSAllowedOrigins) > 0, cors(cfg.CORSAllowedOrigins)),
		// The refusals on the headers alone, cheapest first.
		requireBodyType(v),
		limitBody(func(c echo.Context) int64 {
			if op, _ := v.Operation(c); op != nil && op.Streamed {
				if isUploadOp(op) {
					return maxUploadBody
				}
				return maxBody
			}
			return maxKept
		}),
		// A link's token, on the path or as the bearer: its id for the
		// log, and the limit on tokens that find nothing.
		guardLinks(newAddressLimiter(cfg.LinkMissLimit)),
		s.authenticate(v),
		optional(cfg.RateLimit.RPS > 0, limitAccounts(newLimiters(cfg.RateLimit))),
		// Only now may a body be read.
		v.Middleware(),
	))
	routes := withHead{e}
	gen.RegisterHandlers(routes, handlers{ServerInterface: gen.NewStrictHandler(s, []gen.StrictMiddlewareFunc{requestFacts}), create: s.createResource, uploads: uploads})
	registerDocsAssets(routes)
	registerConsole(routes, maxContent, cfg.Catalog.MaxUploadBytes())
	if cfg.Metrics != nil && cfg.ServeMetrics {
		routes.GET(metricsPath, echo.WrapHandler(cfg.Metrics.Handler()))
	}
	return e, nil
}

// withHead registers every GET route for HEAD too, with the same handler
// and middleware (RFC 9110 section 9.1: a general-purpose server supports
// GET and HEAD). The validator checks a HEAD as its GET; handlers see the
// HEAD, and net/http drops the body they write.
type withHead struct{ *echo.Echo }

func (r withHead) GET(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	r.Echo.HEAD(path, h, m...)
	return r.Echo.GET(path, h, m...)
}

// streamedCreate is the operation whose body is not decoded whole before
// its handler runs: createResource reads it as a stream.
const streamedCreate = "createResource"

// handlers serves every operation through the generated strict handler
// except createResource, which reads its raw body (createResource), and
// the resumable upload routes, which tusd serves (uploads.go).
type handlers struct {
	gen.ServerInterface
	create  echo.HandlerFunc
	uploads uploadRoutes
}

func (h handlers) CreateResource(c echo.Context) error { return h.create(c) }

func (h handlers) UploadOptions(c echo.Context) error { return h.uploads.UploadOptions(c) }

func (h handlers) CreateUpload(c echo.Context, p gen.CreateUploadParams) error {
	return h.uploads.CreateUpload(c, p)
}

func (h handlers) GetUpload(c echo.Context, id openapi_types.UUID) error {
	return h.uploads.GetUpload(c, id)
}

func (h handlers) UploadChunk(c echo.Context, id openapi_types.UUID, p gen.UploadChunkParams) error {
	return h.uploads.UploadChunk(c, id, p)
}

func (h handlers) TerminateUpload(c echo.Context, id openapi_types.UUID, p gen.TerminateUploadParams) error {
	return h.uploads.TerminateUpload(c, id, p)
}

// chain composes mw, outermost first, around the matched route's handler,
// once: echo composes its middleware anew for every request, a closure per
// middleware, and this is the one middleware it sees. It relies on echo
// calling it with the route echo matched, c.Handler(). Nil entries (see
// optional) are left out.
func chain(mw ...echo.MiddlewareFunc) echo.MiddlewareFunc {
	h := func(c echo.Context) error { return c.Handler()(c) }
	for i := len(mw) - 1; i >= 0; i-- {
		if mw[i] != nil {
			h = mw[i](h)
		}
	}
	return func(echo.HandlerFunc) echo.HandlerFunc { return h }
}

// optional is mw when on, else nil, which chain leaves out.
func optional(on bool, mw echo.MiddlewareFunc) echo.MiddlewareFunc {
	if !on {
		return nil
	}
	return mw
}

// metricsPath is where Prometheus scrapes when metrics share the API's
// listener.
const metricsPath = "/metrics"
