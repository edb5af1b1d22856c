package server

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	oapimiddleware "github.com/oapi-codegen/echo-middleware"

	"github.com/re-factor/resources/auth"
	"github.com/re-factor/resources/gen"
	"github.com/re-factor/resources/resources"
	"github.com/re-factor/resources/store"
)

// Config holds what the HTTP layer depends on.
type Config struct {
	// DB answers the readiness probe; Resources serves every operation on
	// resources, and its MaxContentBytes caps request bodies to match.
	DB        *store.DB
	Resources *resources.Service
	Verifier  *auth.Verifier
	Logger    *slog.Logger
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

// New builds the echo instance that main serves and tests drive: embedded
// spec → cheap refusals on the headers (size, type, authentication, rate) →
// request validator → strict handlers, with one error handler rendering
// every failure as {"error": "..."}. Nothing reads a body before its request
// is authenticated and within its account's rate.
func New(cfg Config) (*echo.Echo, error) {
	if cfg.DB == nil || cfg.Resources == nil || cfg.Verifier == nil {
		return nil, errors.New("server: Config needs DB, Resources and Verifier")
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	maxContent := cfg.Resources.MaxContentBytes()
	spec, formats, err := validatorSpec()
	if err != nil {
		return nil, fmt.Errorf("server: load embedded spec: %w", err)
	}
	if _, err := servedSpec(); err != nil {
		return nil, fmt.Errorf("server: prepare served spec: %w", err)
	}
	ops, err := newOperations(spec)
	if err != nil {
		return nil, fmt.Errorf("server: read the spec's operations: %w", err)
	}
	// From here on the request validator sees the spec without security:
	// authenticate has checked it (ops keeps who needs a token) before any
	// body was read, and kin-openapi's own check reads the whole body into
	// memory first.
	withoutSecurity(spec)
	s := &Server{db: cfg.DB, resources: cfg.Resources, verifier: cfg.Verifier, log: cfg.Logger,
		validation: validationOptions(formats)}
	if s.createRoute, err = ops.byID(streamedOperation); err != nil {
		return nil, err
	}
	if rb := s.createRoute.Operation.RequestBody; rb == nil || rb.Value == nil {
		return nil, fmt.Errorf("server: the spec's %s has no request body", streamedOperation)
	}
	s.contentRule, _ = spec.Components.Schemas["DataURL"].Value.Extensions["x-pattern-rule"].(string)
	maxBody := MaxBodyBytes(maxContent)

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	// keepPlusInTimestamps first: nothing before it may decode the query.
	// lingerAfterEarlyAnswer next, so the time spent draining a refused body
	// is nobody's latency.
	mw := []echo.MiddlewareFunc{keepPlusInTimestamps, lingerAfterEarlyAnswer(2 * maxBody)}
	if cfg.Metrics != nil {
		mw = append(mw, cfg.Metrics.middleware)
	}
	mw = append(mw, compressResponses(), requestID, s.accessLog, recoverPanic, clientGone, securityHeaders)
	// CORS before anything that can refuse a request, so a browser can
	// read every error.
	if len(cfg.CORSAllowedOrigins) > 0 {
		mw = append(mw, cors(cfg.CORSAllowedOrigins))
	}
	mw = append(mw, requireJSON, limitBody(func(c echo.Context) int64 {
		if op, _ := ops.of(c); op.route == s.createRoute {
			return maxBody
		}
		return maxKept
	}), s.authenticate(ops))
	if l := newLimiters(cfg.RateLimit); l != nil {
		mw = append(mw, limitAccounts(l))
	}
	quick, err := newQuickCheck(spec, s.validation)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	mw = append(mw, s.requestValidator(spec, false, func(c echo.Context) bool {
		op, _ := ops.of(c)
		if outsideSpec(c) || op.route == s.createRoute {
			return true
		}
		return op.route != nil && op.route.Operation.RequestBody == nil && quick.passes(c)
	}), singleQueryValues(spec))
	e.Use(composedOnce(mw...))
	gen.RegisterHandlersWithOptions(e, handlers{ServerInterface: gen.NewStrictHandler(s, nil), create: s.createResource},
		gen.RegisterHandlersOptions{OperationMiddlewares: map[string][]echo.MiddlewareFunc{
			streamedOperation: {s.requestValidator(spec, true, nil)},
		}})
	registerDocsAssets(e)
	registerConsole(e, maxContent)
	if cfg.Metrics != nil && cfg.ServeMetrics {
		e.GET(metricsPath, echo.WrapHandler(cfg.Metrics.Handler()))
	}
	return e, nil
}

// streamedOperation is the one operation whose body is not decoded whole
// before its handler runs: createResource reads it as a stream.
const streamedOperation = "createResource"

// handlers serves every operation through the generated strict handler
// except createResource, which reads its raw body (createResource).
type handlers struct {
	gen.ServerInterface
	create echo.HandlerFunc
}

func (h handlers) CreateResource(c echo.Context) error { return h.create(c) }

// validationOptions are kin-openapi's options for every check against the
// spec: the request validator's and the streamed create's body.
// formats are the string formats validatorSpec's document needs.
func validationOptions(formats map[string]openapi3.StringFormatValidator) openapi3filter.Options {
	return openapi3filter.Options{
		// With MultiError each failure stays a RequestError naming its
		// parameter; without it the middleware flattens schema errors and
		// loses the name.
		MultiError: true,
		// The handlers fill in the spec's defaults for absent parameters
		// (TestHandlerDefaultsAreTheSpecs); kin-openapi's own would
		// re-parse and re-encode the query once per absent parameter.
		SkipSettingDefaults: true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			openapi3.WithStringFormatValidators(formats),
		},
	}
}

// requestValidator checks requests against the spec, their bodies too
// unless withoutBody; skip, when set, picks requests it lets through.
func (s *Server) requestValidator(spec *openapi3.T, withoutBody bool, skip middleware.Skipper) echo.MiddlewareFunc {
	opts := s.validation
	opts.ExcludeRequestBody = withoutBody
	return oapimiddleware.OapiRequestValidatorWithOptions(spec, &oapimiddleware.Options{
		DoNotValidateServers: true,
		Skipper:              skip,
		Options:              opts,
		MultiErrorHandler:    firstValidationError,
	})
}

// composedOnce chains mw, outermost first, around the matched route's
// handler, once: echo composes its middleware anew for every request, a
// closure per middleware, and this is the one middleware it sees. It
// relies on echo calling it with the route echo matched, c.Handler().
func composedOnce(mw ...echo.MiddlewareFunc) echo.MiddlewareFunc {
	h := func(c echo.Context) error { return c.Handler()(c) }
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return func(echo.HandlerFunc) echo.HandlerFunc { return h }
}

// metricsPath is where Prometheus scrapes when metrics share the API's
// listener.
const metricsPath = "/metrics"

// outsideSpec picks the routes the request validator must let through
// because openapi.yaml does not describe them: operational endpoints, the
// reference page's assets and the console.
func outsideSpec(c echo.Context) bool {
	p := c.Request().URL.Path
	return p == metricsPath || strings.HasPrefix(p, docsAssetPrefix) ||
		p == "/console" || strings.HasPrefix(p, consolePrefix)
}

// firstValidationError picks the error to report: an oversized body, else
// the first invalid parameter or body.
func firstValidationError(me openapi3.MultiError) *echo.HTTPError {
	// A body cut off while streaming makes the validator's other checks
	// fail on the truncated request: they must not hide the 413.
	for _, err := range me {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &echo.HTTPError{Code: http.StatusRequestEntityTooLarge,
				Message: fmt.Sprintf("request body is larger than %d bytes", tooLarge.Limit)}
		}
	}
	return &echo.HTTPError{Code: http.StatusBadRequest, Message: "invalid request", Internal: me[0]}
}
