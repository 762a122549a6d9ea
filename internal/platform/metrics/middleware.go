package metrics

import (
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/seckill/seckill/internal/platform/httpx"
)

// unmatched is the route label of requests no route matched. Labelling them
// by path instead would let any client mint new time series at will.
const unmatched = "unmatched"

// Middleware counts each request in http_requests_total{route,method,status}
// and times it in http_request_duration_seconds{route,method}, where route
// is the chi route pattern ("/activities/{id}/seckill"), or "unmatched".
// A handler panic counts as status 500.
//
// It sits on the seckill hot path, so it formats nothing per request: the
// label set's series are looked up in a lock-free cache after the first
// request with those labels. Install it with the router's Use so the
// pattern is known; wrapping a chi router from outside works too.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, rctx := httpx.WithRouteContext(r, next)
		rec := httpx.Recorder(w)
		completed := false
		defer func() {
			status := rec.Final(completed)
			route := rctx.RoutePattern()
			if route == "" {
				route = unmatched
			}
			s := m.lookup(route, methodLabel(r.Method), status)
			s.requests.Inc()
			s.duration.Observe(time.Since(rec.Start).Seconds())
		}()
		next.ServeHTTP(rec, r)
		completed = true
	})
}

// lookup returns the series of one label set, creating it on first use.
func (m *Metrics) lookup(route, method string, status int) series {
	k := seriesKey{route: route, method: method, status: status}
	if s, ok := (*m.series.Load())[k]; ok {
		return s
	}
	m.seriesMu.Lock()
	defer m.seriesMu.Unlock()
	old := *m.series.Load()
	if s, ok := old[k]; ok {
		return s
	}
	s := series{
		requests: m.requests.WithLabelValues(route, method, strconv.Itoa(status)),
		duration: m.duration.WithLabelValues(route, method),
	}
	next := make(map[seriesKey]series, len(old)+1)
	maps.Copy(next, old)
	next[k] = s
	m.series.Store(&next)
	return s
}

// methodLabel keeps the method label to the standard methods, so made-up
// methods cannot grow the number of series.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}
