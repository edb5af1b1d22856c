// Package poolmetrics reports the store's connection pools to Prometheus,
// so that the store itself needs no metrics library.
package poolmetrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/re-factor/resources/store"
)

// Collector reports db's connection pools to Prometheus as gauges and
// counters (refactor_db_*), read at each scrape.
func Collector(db *store.DB) prometheus.Collector { return newPoolCollector(db) }

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
