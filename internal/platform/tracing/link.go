package tracing

import (
	"context"

	"github.com/opentracing/opentracing-go"
	otlog "github.com/opentracing/opentracing-go/log"
	"github.com/uber/jaeger-client-go"
)

// StartShared starts the span of work done at once for several requests,
// such as a group commit deciding many purchases: a child of the first
// request whose span is sampled, so that request's trace shows the work,
// and following from the other sampled ones, each of which gets a log
// naming the shared span's trace. It returns ctx carrying the span, for the
// work's own spans (its database queries) to hang under, and the span.
// When no request is sampled it returns ctx and nil: the work is not
// traced, and costs one context lookup per request.
func StartShared(ctx context.Context, tracer opentracing.Tracer, operation string, requests []context.Context) (context.Context, opentracing.Span) {
	var sampled []opentracing.Span
	for _, r := range requests {
		if s := opentracing.SpanFromContext(r); s != nil && isSampled(s) {
			sampled = append(sampled, s)
		}
	}
	if len(sampled) == 0 {
		return ctx, nil
	}
	opts := []opentracing.StartSpanOption{opentracing.ChildOf(sampled[0].Context())}
	for _, s := range sampled[1:] {
		opts = append(opts, opentracing.FollowsFrom(s.Context()))
	}
	span := tracer.StartSpan(operation, opts...)
	span.SetTag("requests", len(requests))
	if sc, ok := span.Context().(jaeger.SpanContext); ok {
		for _, s := range sampled[1:] {
			s.LogFields(otlog.String("event", operation), otlog.String("trace_id", sc.TraceID().String()),
				otlog.String("span_id", sc.SpanID().String()))
		}
	}
	return opentracing.ContextWithSpan(ctx, span), span
}

// isSampled reports whether span will be reported: a Jaeger span whose
// trace is sampled, or any span of another tracer.
func isSampled(span opentracing.Span) bool {
	if _, lazy := span.(*lazySpan); lazy {
		return false // an unsampled root, which would be made for nothing
	}
	sc, ok := span.Context().(jaeger.SpanContext)
	return !ok || sc.IsSampled()
}
