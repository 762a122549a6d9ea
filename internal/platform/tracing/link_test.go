package tracing

import (
	"context"
	"testing"

	"github.com/opentracing/opentracing-go"
	"github.com/uber/jaeger-client-go"
)

func TestStartShared(t *testing.T) {
	t.Run("ChildOfTheFirstSampledFollowsFromTheOthers", func(t *testing.T) {
		tracer, rep := jaegerTracer(t, true)
		a, b := tracer.StartSpan("purchase a"), tracer.StartSpan("purchase b")
		reqs := []context.Context{context.Background(), opentracing.ContextWithSpan(context.Background(), a),
			opentracing.ContextWithSpan(context.Background(), b)}
		ctx, span := StartShared(context.Background(), tracer, "seckill.commit", reqs)
		if span == nil || opentracing.SpanFromContext(ctx) != span {
			t.Fatalf("no span in the returned context")
		}
		span.Finish()
		a.Finish()
		b.Finish()
		var commit *jaeger.Span
		for _, s := range rep.GetSpans() {
			if s := s.(*jaeger.Span); s.OperationName() == "seckill.commit" {
				commit = s
			}
		}
		if commit == nil {
			t.Fatal("the shared span was not reported")
		}
		refs := commit.References()
		if len(refs) != 2 || refs[0].Type != opentracing.ChildOfRef || refs[0].ReferencedContext.(jaeger.SpanContext).SpanID() != a.Context().(jaeger.SpanContext).SpanID() ||
			refs[1].Type != opentracing.FollowsFromRef || refs[1].ReferencedContext.(jaeger.SpanContext).SpanID() != b.Context().(jaeger.SpanContext).SpanID() {
			t.Errorf("references %+v, want child of a and following from b", refs)
		}
		if commit.Context().(jaeger.SpanContext).TraceID() != a.Context().(jaeger.SpanContext).TraceID() {
			t.Error("the shared span is not in the first purchase's trace")
		}
		if logs := b.(*jaeger.Span).Logs(); len(logs) == 0 {
			t.Error("the other purchase's span does not name the shared span's trace")
		}
	})
	t.Run("NothingSampledNothingTraced", func(t *testing.T) {
		tracer, rep := jaegerTracer(t, false)
		a := tracer.StartSpan("purchase")
		ctx, span := StartShared(context.Background(), tracer, "seckill.commit",
			[]context.Context{opentracing.ContextWithSpan(context.Background(), a)})
		if span != nil || opentracing.SpanFromContext(ctx) != nil {
			t.Errorf("an unsampled purchase got a shared span")
		}
		a.Finish()
		if n := len(rep.GetSpans()); n != 0 {
			t.Errorf("%d spans reported, want 0", n)
		}
	})
}
