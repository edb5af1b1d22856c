package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/re-factor/resources/store"
)

// BuildInfo names the running build; main fills it from the linker flags or
// the module's build information.
type BuildInfo struct {
	Version, Commit string
}

// Metrics is the server's Prometheus registry: requests by route and status,
// their latency, the database pools, the build and the Go runtime. Each
// Metrics has its own registry, so tests can build servers side by side.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics returns the metrics of a server over db.
func NewMetrics(db *store.DB, build BuildInfo) *Metrics {
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
	m.reg.MustRegister(m.requests, m.latency, buildInfo, newPoolCollector(db),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
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
		method := c.Request().Method
		m.requests.WithLabelValues(method, route, strconv.Itoa(c.Response().Status)).Inc()
		m.latency.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
		return err
	}
}

// poolCollector reports the database pools as gauges and counters, read
// from the store at each scrape.
type poolCollector struct {
	db                                   *store.DB
	open, inUse, idle, maxOpen           *prometheus.Desc
	waits, waitSeconds, closedIdle, life *prometheus.Desc
}

func newPoolCollector(db *store.DB) *poolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("refactor_db_"+name, help, []string{"pool"}, nil)
	}
	return &poolCollector{
		db:          db,
		open:        d("open_connections", "Connections open, in use or idle."),
		inUse:       d("in_use_connections", "Connections running a statement or transaction."),
		idle:        d("idle_connections", "Connections open and idle."),
		maxOpen:     d("max_open_connections", "The pool's limit on open connections."),
		waits:       d("wait_count_total", "Times a caller waited for a free connection."),
		waitSeconds: d("wait_duration_seconds_total", "Time callers spent waiting for a free connection."),
		closedIdle:  d("max_idle_closed_total", "Connections closed because the idle pool was full or they idled too long."),
		life:        d("max_lifetime_closed_total", "Connections closed because they reached their maximum lifetime."),
	}
}

func (p *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{p.open, p.inUse, p.idle, p.maxOpen, p.waits, p.waitSeconds, p.closedIdle, p.life} {
		ch <- d
	}
}

func (p *poolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, pool := range p.db.Stats() {
		s, name := pool.Stats, pool.Name
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, name)
		}
		counter := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, name)
		}
		gauge(p.open, float64(s.OpenConnections))
		gauge(p.inUse, float64(s.InUse))
		gauge(p.idle, float64(s.Idle))
		gauge(p.maxOpen, float64(s.MaxOpenConnections))
		counter(p.waits, float64(s.WaitCount))
		counter(p.waitSeconds, s.WaitDuration.Seconds())
		counter(p.closedIdle, float64(s.MaxIdleClosed+s.MaxIdleTimeClosed))
		counter(p.life, float64(s.MaxLifetimeClosed))
	}
}
