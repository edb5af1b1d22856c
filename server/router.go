package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"
	oapimiddleware "github.com/oapi-codegen/echo-middleware"

	"github.com/re-factor/resources/auth"
	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/gen"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/urlfetch"
)

// Config holds what the HTTP layer depends on.
type Config struct {
	DB       *store.DB
	Blobs    *blobstore.Store
	Fetcher  *urlfetch.Fetcher
	Verifier *auth.Verifier
	Logger   *slog.Logger
	// MaxContentBytes caps a resource's bytes (413 beyond); request bodies
	// are capped to match. Default 25 MiB.
	MaxContentBytes int64
	// Now is the clock for created_at and updated_at; default time.Now.
	Now func() time.Time
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
}

// DefaultMaxContentBytes is MAX_CONTENT_BYTES when unset: 25 MiB.
const DefaultMaxContentBytes = 25 << 20

// New builds the echo instance that main serves and tests drive: embedded
// spec → request validator (authentication included) → strict handlers, with
// one error handler rendering every failure as {"error": "..."}.
func New(cfg Config) (*echo.Echo, error) {
	if cfg.DB == nil || cfg.Blobs == nil || cfg.Fetcher == nil || cfg.Verifier == nil {
		return nil, errors.New("server: Config needs DB, Blobs, Fetcher and Verifier")
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	cfg.MaxContentBytes = cmp.Or(cfg.MaxContentBytes, DefaultMaxContentBytes)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	spec, formats, err := validatorSpec()
	if err != nil {
		return nil, fmt.Errorf("server: load embedded spec: %w", err)
	}
	if _, err := servedSpec(); err != nil {
		return nil, fmt.Errorf("server: prepare served spec: %w", err)
	}
	s := &Server{db: cfg.DB, blobs: cfg.Blobs, fetcher: cfg.Fetcher, verifier: cfg.Verifier,
		log: cfg.Logger, maxContent: cfg.MaxContentBytes, now: cfg.Now}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.Pre(keepPlusInTimestamps)
	if cfg.Metrics != nil {
		e.Use(cfg.Metrics.middleware)
	}
	e.Use(requestID, s.accessLog, recoverPanic, clientGone, securityHeaders)
	// CORS before anything that can refuse a request, so a browser can
	// read every error.
	if len(cfg.CORSAllowedOrigins) > 0 {
		e.Use(cors(cfg.CORSAllowedOrigins))
	}
	e.Use(requireJSON, limitBody(maxBodyBytes(cfg.MaxContentBytes)))
	e.Use(s.requestValidator(spec, formats), singleQueryValues(spec))
	if l := newLimiters(cfg.RateLimit); l != nil {
		e.Use(limitAccounts(l))
	}
	gen.RegisterHandlers(e, gen.NewStrictHandler(s, nil))
	registerDocsAssets(e)
	if cfg.Metrics != nil && cfg.ServeMetrics {
		e.GET(metricsPath, echo.WrapHandler(cfg.Metrics.Handler()))
	}
	return e, nil
}

// metricsPath is where Prometheus scrapes when metrics share the API's
// listener.
const metricsPath = "/metrics"

// outsideSpec picks the routes the request validator must let through
// because openapi.yaml does not describe them: operational endpoints and
// the reference page's assets.
func outsideSpec(c echo.Context) bool {
	p := c.Request().URL.Path
	return p == metricsPath || strings.HasPrefix(p, docsAssetPrefix)
}

// authenticate is the validator's AuthenticationFunc: it verifies the bearer
// token, checks the scope the method needs and hands the principal to the
// handler through the request's context.
func (s *Server) authenticate(ctx context.Context, in *openapi3filter.AuthenticationInput) error {
	req := in.RequestValidationInput.Request
	p, err := s.verifier.Verify(ctx, req.Header.Get("Authorization"))
	if err == nil {
		err = requireScope(p, req.Method)
	}
	if err != nil {
		return &echo.HTTPError{Code: statusOf(err), Message: err.Error(), Internal: err}
	}
	c := oapimiddleware.GetEchoContext(ctx)
	c.SetRequest(c.Request().WithContext(withPrincipal(c.Request().Context(), p)))
	return nil
}

// firstValidationError picks the error to report: an authentication failure
// first (a stranger learns nothing about parameters), else the first
// invalid parameter or body.
func firstValidationError(me openapi3.MultiError) *echo.HTTPError {
	// An oversized body is refused as it is with a declared length, before
	// authentication: when it is cut off while streaming, the validator's
	// other checks fail on the truncated request and must not hide the 413.
	for _, err := range me {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &echo.HTTPError{Code: http.StatusRequestEntityTooLarge, Internal: err}
		}
	}
	for _, err := range me {
		var sre *openapi3filter.SecurityRequirementsError
		if !errors.As(err, &sre) {
			continue
		}
		for _, cause := range sre.Errors {
			var he *echo.HTTPError
			if errors.As(cause, &he) {
				return he
			}
		}
		return &echo.HTTPError{Code: http.StatusUnauthorized, Message: "authentication failed", Internal: err}
	}
	return &echo.HTTPError{Code: http.StatusBadRequest, Message: "invalid request", Internal: me[0]}
}

// requireScope maps the contract's rule: reads need resources:read, every
// other method resources:write.
func requireScope(p auth.Principal, method string) error {
	scope := "resources:write"
	if method == http.MethodGet || method == http.MethodHead {
		scope = "resources:read"
	}
	if !p.HasScope(scope) {
		return fmt.Errorf("%w: token lacks the %s scope", auth.ErrForbidden, scope)
	}
	return nil
}
