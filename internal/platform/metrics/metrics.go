// Package metrics gives each service its own Prometheus registry, the
// /metrics handler that exposes it, and HTTP request metrics. Nothing is
// registered with Prometheus's global registry, so several services can run
// in one test process.
package metrics

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one service's registry and its HTTP request metrics.
type Metrics struct {
	reg      *prometheus.Registry
	wrapped  prometheus.Registerer
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec

	// series caches the children of requests and duration by label values,
	// so a request looks its series up in a plain map instead of hashing
	// label values under the vectors' lock and allocating their slice. The
	// map is replaced, never changed, so readers need no lock; writers are
	// rare because routes × methods × statuses is small.
	series   atomic.Pointer[map[seriesKey]series]
	seriesMu sync.Mutex
}

type seriesKey struct {
	route, method string
	status        int
}

type series struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// New returns the metrics of the named service on a fresh registry holding
// the Go runtime and process collectors and the HTTP request metrics. Every
// metric registered through Registerer, and every one New makes, carries a
// constant label service=<service>, so dashboards can tell services apart
// even when scraped through one job.
func New(service string) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg:     reg,
		wrapped: prometheus.WrapRegistererWith(prometheus.Labels{"service": service}, reg),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests served, by chi route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_request_duration_seconds",
			Help: "Time to serve an HTTP request, by chi route pattern and method.",
			// From half a millisecond: the seckill endpoint answers most
			// requests, losers above all, well under the client library's
			// smallest default bucket of 5 ms.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
	}
	empty := map[seriesKey]series{}
	m.series.Store(&empty)
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests,
		m.duration,
	} {
		// Registering distinct collectors on a registry made a line ago
		// cannot fail, so there is no error to hand back.
		_ = m.wrapped.Register(c)
	}
	return m
}

// Registerer returns the registry as services should register their own
// collectors on it: adding the service label to what they export.
func (m *Metrics) Registerer() prometheus.Registerer { return m.wrapped }

// Handler serves the registry in the Prometheus exposition format, for
// GET /metrics. A collector that fails is reported in the response and
// does not hide the others.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg, // counts its own errors in promhttp_metric_handler_errors_total
	})
}

// Counter registers and returns a counter vector named name with the given
// label names, for service-specific counts such as seckill outcomes by
// status.
func (m *Metrics) Counter(name, help string, labels ...string) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	if err := m.wrapped.Register(c); err != nil {
		return nil, fmt.Errorf("register counter %s: %w", name, err)
	}
	return c, nil
}

// Histogram registers and returns a histogram vector named name with the
// given buckets (nil for the client library's defaults) and label names,
// for distributions such as group-commit batch sizes.
func (m *Metrics) Histogram(name, help string, buckets []float64, labels ...string) (*prometheus.HistogramVec, error) {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	if err := m.wrapped.Register(h); err != nil {
		return nil, fmt.Errorf("register histogram %s: %w", name, err)
	}
	return h, nil
}

// GaugeFunc registers a gauge whose value f reports at each scrape, for
// levels the service already knows, such as the order relay's backlog. f
// must be safe to call concurrently and quick.
func (m *Metrics) GaugeFunc(name, help string, f func() float64) error {
	g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	if err := m.wrapped.Register(g); err != nil {
		return fmt.Errorf("register gauge func %s: %w", name, err)
	}
	return nil
}
