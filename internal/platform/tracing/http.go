package tracing

import (
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	otlog "github.com/opentracing/opentracing-go/log"
	"github.com/uber/jaeger-client-go"

	"github.com/seckill/seckill/internal/platform/httpx"
)

// Middleware starts a server span for each request, joined to the trace the
// caller sent in its headers, and stores it in the request context so
// handlers, Transport and QueryTracer hang their spans under it. The span is
// named "HTTP <METHOD> <route pattern>", the chi pattern rather than the
// path so that /products/1 and /products/2 are one operation in Jaeger, and
// is tagged with the method, URL and status; a status of 500 or more, or a
// handler panic, marks it as an error.
//
// A request that matches no route is named "HTTP <METHOD> (no route)": its
// path may hold anything, and each distinct name would be a new operation.
// Requests for the paths in untraced are not traced at all (an entry ending
// in "/" names every path under it): health checks, metrics scrapes and the
// Swagger UI's assets would otherwise bury the traces worth reading.
//
// Install it with the router's Use so the pattern is known; wrapping a chi
// router from outside works too. When tracer is a NoopTracer it returns next
// itself, so disabled tracing costs nothing per request.
func Middleware(tracer opentracing.Tracer, untraced ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if !enabled(tracer) {
			return next
		}
		// Other tracers may read other headers: they always get to look.
		_, isJaeger := tracer.(*jaeger.Tracer)
		sampled := rootSamplerOf(tracer)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if skipped(r.URL.Path, untraced) {
				next.ServeHTTP(w, r)
				return
			}
			var parent opentracing.SpanContext
			if !isJaeger || carriesContext(r.Header) {
				// An unreadable incoming context leaves parent nil: this
				// request starts a trace.
				parent, _ = tracer.Extract(opentracing.HTTPHeaders, opentracing.HTTPHeadersCarrier(r.Header))
			}
			var span opentracing.Span
			switch {
			case parent != nil:
				span = tracer.StartSpan(operation(r.Method), ext.RPCServerOption(parent))
			case sampled != nil:
				span = startRoot(tracer, sampled, operation(r.Method), startOf(w))
			default:
				// A root span's kind is only a tag; it is set below if
				// the span is recorded, sparing a map per request.
				span = tracer.StartSpan(operation(r.Method))
			}
			r, rctx := httpx.WithRouteContext(r, next)
			r = r.WithContext(opentracing.ContextWithSpan(r.Context(), span))
			if l, ok := span.(*lazySpan); ok {
				defer l.end()
				next.ServeHTTP(w, r)
				return
			}
			if !recording(span) {
				// The span is kept only so that its trace id reaches
				// the spans of calls this request makes; it will never
				// be reported, so its tags and name are not computed.
				defer span.Finish()
				next.ServeHTTP(w, r)
				return
			}
			ext.SpanKindRPCServer.Set(span)
			ext.HTTPMethod.Set(span, r.Method)
			ext.HTTPUrl.Set(span, r.URL.String())
			rec := httpx.Recorder(w)
			completed := false
			defer func() {
				status := rec.Final(completed)
				if pattern := rctx.RoutePattern(); pattern != "" {
					span.SetOperationName("HTTP " + r.Method + " " + pattern)
				} else {
					span.SetOperationName("HTTP " + r.Method + " (no route)")
				}
				ext.HTTPStatusCode.Set(span, uint16(status))
				if status >= http.StatusInternalServerError {
					ext.Error.Set(span, true)
				}
				span.Finish()
			}()
			next.ServeHTTP(rec, r)
			completed = true
		})
	}
}

// skipped reports whether path is one of untraced, or under one that ends
// in "/".
func skipped(path string, untraced []string) bool {
	for _, u := range untraced {
		if path == u || (strings.HasSuffix(u, "/") && strings.HasPrefix(path, u)) {
			return true
		}
	}
	return false
}

// The headers Jaeger's propagator reads, in net/http's canonical form. New
// keeps the propagator's default names.
var (
	traceHeader         = textproto.CanonicalMIMEHeaderKey(jaeger.TraceContextHeaderName)
	debugHeader         = textproto.CanonicalMIMEHeaderKey(jaeger.JaegerDebugHeader)
	baggageHeader       = textproto.CanonicalMIMEHeaderKey(jaeger.JaegerBaggageHeader)
	baggageHeaderPrefix = textproto.CanonicalMIMEHeaderKey(jaeger.TraceBaggageHeaderPrefix)
)

// carriesContext reports whether h may hold a Jaeger trace context. The
// propagator lower-cases every header name it looks at, an allocation per
// header on every request; most requests of a flash sale come from browsers
// that send none of these headers, so they skip it.
func carriesContext(h http.Header) bool {
	if h[traceHeader] != nil || h[debugHeader] != nil || h[baggageHeader] != nil {
		return true
	}
	for k := range h {
		if strings.HasPrefix(k, baggageHeaderPrefix) {
			return true
		}
	}
	return false
}

// startOf is when the request began, as the metrics middleware in front
// already read it, or now.
func startOf(w http.ResponseWriter) time.Time {
	if rec, ok := w.(*httpx.StatusRecorder); ok && !rec.Start.IsZero() {
		return rec.Start
	}
	return time.Now()
}

// recording reports whether span may still be reported: always, except a
// Jaeger span whose sampling decision is final and negative. At the default
// sampler that is 999 requests in 1000, so this is what keeps tracing cheap
// on the seckill endpoint.
func recording(span opentracing.Span) bool {
	if _, lazy := span.(*lazySpan); lazy {
		return false
	}
	sc, ok := span.Context().(jaeger.SpanContext)
	return !ok || sc.IsSampled() || !sc.IsSamplingFinalized()
}

// operation names a server span before its route is known, without
// building the string for the usual methods.
func operation(method string) string {
	switch method {
	case http.MethodGet:
		return "HTTP GET"
	case http.MethodPost:
		return "HTTP POST"
	case http.MethodPut:
		return "HTTP PUT"
	case http.MethodDelete:
		return "HTTP DELETE"
	}
	return "HTTP " + method
}

// Transport returns a RoundTripper that wraps each outgoing request in a
// client span, a child of the span in the request's context if there is
// one, named "HTTP <METHOD> <route pattern>" when the caller put the pattern
// in the context (httpx.Client does, from its httpx.Route) and "HTTP
// <METHOD>" otherwise, never by the path: ids in names make every call a new
// operation in Jaeger. It sends the span's context in
// the request headers for the peer's Middleware to join. The span ends when
// the response headers arrive. base nil means http.DefaultTransport; with a
// NoopTracer Transport returns base itself.
func Transport(tracer opentracing.Tracer, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if !enabled(tracer) {
		return base
	}
	return &transport{tracer: tracer, base: base}
}

type transport struct {
	tracer opentracing.Tracer
	base   http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	opts := []opentracing.StartSpanOption{ext.SpanKindRPCClient}
	if parent := opentracing.SpanFromContext(req.Context()); parent != nil {
		opts = append(opts, opentracing.ChildOf(parent.Context()))
	}
	name := operation(req.Method)
	if pattern := httpx.RoutePatternFrom(req.Context()); pattern != "" {
		name += " " + pattern
	}
	span := t.tracer.StartSpan(name, opts...)
	defer span.Finish()
	ext.HTTPMethod.Set(span, req.Method)
	ext.HTTPUrl.Set(span, req.URL.String())
	ext.PeerHostname.Set(span, req.URL.Hostname())

	// A RoundTripper must not modify the caller's request.
	req = req.Clone(req.Context())
	if err := t.tracer.Inject(span.Context(), opentracing.HTTPHeaders, opentracing.HTTPHeadersCarrier(req.Header)); err != nil {
		// The call still goes out; the peer just starts its own trace.
		span.LogFields(otlog.String("event", "inject failed"), otlog.Error(err))
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		ext.Error.Set(span, true)
		span.LogFields(otlog.Error(err))
		return nil, err
	}
	ext.HTTPStatusCode.Set(span, uint16(resp.StatusCode))
	if resp.StatusCode >= http.StatusInternalServerError {
		ext.Error.Set(span, true)
	}
	return resp, nil
}
