package proxy

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// newRegistry returns the Proxy's own Prometheus registry (no global
// one): the proxy's collector plus the Go runtime and process
// collectors.
func newRegistry(p *Proxy) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newCollector(p),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// MetricsHandler serves the proxy's metrics in the Prometheus text
// format:
//
//	slipway_proxy_requests_total{host,app,env,release,class}       counter; class 1xx..5xx or error
//	slipway_proxy_request_duration_seconds{host,app,env,release}   histogram; until the body is written
//	slipway_proxy_backend_in_flight_requests{backend,addr,app,env,release}
//	slipway_proxy_backend_healthy{backend,addr,app,env,release}    1 while active checks pass
//	slipway_proxy_backend_ejected{backend,addr,app,env,release}    1 while skipped after a refused connection
//	slipway_proxy_canary_weight{host,app,env,release}              per cent of new clients sent to the canary
//	slipway_proxy_routing_table_version
//
// plus the Go runtime's and the process's standard metrics.
func (p *Proxy) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(p.registry, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// collector exports the proxy's own counters as Prometheus metrics at
// scrape time, so requests are counted once, by the proxy's atomics.
type collector struct {
	p        *Proxy
	requests *prometheus.Desc
	duration *prometheus.Desc
	inflight *prometheus.Desc
	healthy  *prometheus.Desc
	ejected  *prometheus.Desc
	weight   *prometheus.Desc
	version  *prometheus.Desc
}

func newCollector(p *Proxy) *collector {
	release := []string{"host", "app", "env", "release"}
	backend := []string{"backend", "addr", "app", "env", "release"}
	return &collector{
		p: p,
		requests: prometheus.NewDesc("slipway_proxy_requests_total",
			"Requests proxied, by release and status class (error: the proxy failed the request, no backend answered).",
			append(release, "class"), nil),
		duration: prometheus.NewDesc("slipway_proxy_request_duration_seconds",
			"Time from receiving a request until its response body was fully written, by release; 1xx (upgrades) excluded.",
			release, nil),
		inflight: prometheus.NewDesc("slipway_proxy_backend_in_flight_requests",
			"Requests in flight to a backend, including backends that left the table and are draining.",
			backend, nil),
		healthy: prometheus.NewDesc("slipway_proxy_backend_healthy",
			"1 while the backend passes its active health checks (or has none), else 0.",
			backend, nil),
		ejected: prometheus.NewDesc("slipway_proxy_backend_ejected",
			"1 while the backend is skipped after refusing a connection, else 0.",
			backend, nil),
		weight: prometheus.NewDesc("slipway_proxy_canary_weight",
			"Per cent of new clients a route sends to its canary release.",
			release, nil),
		version: prometheus.NewDesc("slipway_proxy_routing_table_version",
			"Version of the routing table being served.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.requests, c.duration, c.inflight, c.healthy, c.ejected, c.weight, c.version} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	p := c.p
	if p.metrics != nil {
		stats, labels := p.metrics.list()
		for i, s := range stats {
			l := labels[i]
			lv := []string{l.host, l.app, l.env, strconv.Itoa(l.release)}
			for class := range s.status {
				ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue,
					float64(s.status[class].Load()), append(lv, classNames[class])...)
			}
			buckets := make(map[float64]uint64, len(latencyBounds))
			var cum uint64
			for b, bound := range latencyBounds {
				cum += s.latency[b].Load()
				buckets[bound] = cum
			}
			count := cum + s.latency[len(latencyBounds)].Load()
			sum := time.Duration(s.sumNanos.Load()).Seconds()
			ch <- prometheus.MustNewConstHistogram(c.duration, count, sum, buckets, lv...)
		}
	}

	snap := p.snap.Load()
	ch <- prometheus.MustNewConstMetric(c.version, prometheus.GaugeValue, float64(snap.table.Version))
	for _, r := range snap.table.Routes {
		if r.Canary != nil {
			ch <- prometheus.MustNewConstMetric(c.weight, prometheus.GaugeValue, float64(r.Canary.Weight),
				normalizeHost(r.Host), r.App, r.Env, strconv.Itoa(r.Canary.Release))
		}
	}
	now := time.Now().UnixNano()
	for _, s := range p.Status().Backends {
		lv := []string{s.ID, s.Addr, s.App, s.Env, strconv.Itoa(s.Release)}
		ch <- prometheus.MustNewConstMetric(c.inflight, prometheus.GaugeValue, float64(s.InFlight), lv...)
		ch <- prometheus.MustNewConstMetric(c.healthy, prometheus.GaugeValue, boolGauge(s.Healthy), lv...)
		ch <- prometheus.MustNewConstMetric(c.ejected, prometheus.GaugeValue,
			boolGauge(!s.EjectedUntil.IsZero() && s.EjectedUntil.UnixNano() > now), lv...)
	}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
