package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	prometheuscollectors "github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// BuildInfo names the running build; main fills it from the linker flags or
// the module's build information.
type BuildInfo struct {
	Version, Commit string
}

// Metrics is the server's Prometheus registry: requests by route and status,
// their latency, the build, the Go runtime and what main adds (the
// database pools). Each
// Metrics has its own registry, so tests can build servers side by side.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics returns the metrics of a server of build, with collectors of
// its dependencies (the database pools, say) beside its own.
func NewMetrics(build BuildInfo, collectors ...prometheus.Collector) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refactor_http_requests_total",
			Help: "HTTP requests answered, by method, route template and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "refactor_http_request_duration_seconds",
			Help:    "Time from receiving a request to finishing its response, by method and route template.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "refactor_build_info",
		Help:        "Always 1; the labels name the running build.",
		ConstLabels: prometheus.Labels{"version": build.Version, "commit": build.Commit},
	})
	buildInfo.Set(1)
	m.reg.MustRegister(m.requests, m.latency, buildInfo,
		prometheuscollectors.NewGoCollector(), prometheuscollectors.NewProcessCollector(prometheuscollectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(collectors...)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// middleware records each request once its response is final. It sits
// outermost, so an error is rendered (by echo's error handler) before the
// status is read.
func (m *Metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		// The method as it came: a HEAD is served as a GET further in.
		method := c.Request().Method
		err := next(c)
		if err != nil && !c.Response().Committed {
			c.Error(err)
			err = nil
		}
		// The route template, never the raw path, keeps the label set small.
		route := c.Path()
		if route == "" || c.Response().Status == http.StatusNotFound && route == "/*" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(method, route, strconv.Itoa(c.Response().Status)).Inc()
		m.latency.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
		return err
	}
}
