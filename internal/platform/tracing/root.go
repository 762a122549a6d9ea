package tracing

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/log"
	"github.com/uber/jaeger-client-go"
)

// rootSampler decides, from a trace id alone, whether a new trace is
// sampled, exactly as the tracer's sampler would decide it for that id. It
// exists only for the samplers whose decision depends on nothing else
// (probabilistic and const); nil otherwise.
type rootSampler func(jaeger.TraceID) bool

func rootSamplerOf(tracer opentracing.Tracer) rootSampler {
	jt, ok := tracer.(*jaeger.Tracer)
	if !ok {
		return nil
	}
	switch s := jt.Sampler().(type) {
	case *jaeger.ProbabilisticSampler:
		return func(id jaeger.TraceID) bool { ok, _ := s.IsSampled(id, ""); return ok }
	case *jaeger.ConstSampler:
		return func(jaeger.TraceID) bool { return s.Decision }
	}
	return nil
}

// newTraceID draws a trace id the way the tracer does: 63 random bits that
// are not all zero.
func newTraceID() jaeger.TraceID {
	for {
		if id := rand.Uint64() >> 1; id != 0 {
			return jaeger.TraceID{Low: id}
		}
	}
}

// startRoot starts the server span of a request that starts a trace. The
// trace id is drawn here and the sampling decision taken on it, as the
// tracer would take it. A sampled trace gets its span from the tracer at
// once. An unsampled one (999 requests in 1000 at the default sampler) gets
// a lazySpan: Jaeger's span is made only if something asks for the trace's
// context, such as a call to another service; most requests of a flash sale
// make none, and the span Jaeger makes and drops for each of them was the
// largest per-request cost of tracing.
func startRoot(tracer opentracing.Tracer, sampled rootSampler, op string, start time.Time) opentracing.Span {
	id := newTraceID()
	if sampled(id) {
		return tracer.StartSpan(op, self(id), opentracing.StartTime(start))
	}
	return &lazySpan{tracer: tracer, id: id, op: op, start: start}
}

// self is the reference that makes the tracer start a span with the given
// trace id instead of drawing one; its sampler still decides, on that id.
func self(id jaeger.TraceID) opentracing.StartSpanOption {
	return jaeger.SelfRef(jaeger.NewSpanContext(id, jaeger.SpanID(id.Low), 0, false, nil))
}

// lazySpan is an unsampled root span that becomes a real one the first time
// any of its methods is called: the tracer then starts it with the trace id
// already drawn and the start time already taken, and, deciding on that id,
// does not sample it either.
type lazySpan struct {
	tracer opentracing.Tracer
	id     jaeger.TraceID
	op     string
	start  time.Time
	mu     sync.Mutex
	real   opentracing.Span
}

func (l *lazySpan) span() opentracing.Span {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.real == nil {
		l.real = l.tracer.StartSpan(l.op, self(l.id), opentracing.StartTime(l.start))
	}
	return l.real
}

// end finishes the real span, if one was made.
func (l *lazySpan) end() {
	l.mu.Lock()
	s := l.real
	l.mu.Unlock()
	if s != nil {
		s.Finish()
	}
}

func (l *lazySpan) Finish()                                       { l.span().Finish() }
func (l *lazySpan) FinishWithOptions(o opentracing.FinishOptions) { l.span().FinishWithOptions(o) }
func (l *lazySpan) Context() opentracing.SpanContext              { return l.span().Context() }
func (l *lazySpan) SetOperationName(name string) opentracing.Span {
	return l.span().SetOperationName(name)
}
func (l *lazySpan) SetTag(key string, value any) opentracing.Span { return l.span().SetTag(key, value) }
func (l *lazySpan) LogFields(fields ...log.Field)                 { l.span().LogFields(fields...) }
func (l *lazySpan) LogKV(kv ...any)                               { l.span().LogKV(kv...) }
func (l *lazySpan) SetBaggageItem(key, value string) opentracing.Span {
	return l.span().SetBaggageItem(key, value)
}
func (l *lazySpan) BaggageItem(key string) string { return l.span().BaggageItem(key) }
func (l *lazySpan) Tracer() opentracing.Tracer    { return l.tracer }

// LogEvent is deprecated in opentracing; it is here to satisfy the interface.
func (l *lazySpan) LogEvent(event string) {
	//lint:ignore SA1019 part of the opentracing.Span interface lazySpan implements
	l.span().LogEvent(event)
}

// LogEventWithPayload is deprecated in opentracing; see LogEvent.
func (l *lazySpan) LogEventWithPayload(event string, payload any) {
	//lint:ignore SA1019 part of the opentracing.Span interface lazySpan implements
	l.span().LogEventWithPayload(event, payload)
}

// Log is deprecated in opentracing; see LogEvent.
func (l *lazySpan) Log(data opentracing.LogData) {
	//lint:ignore SA1019 part of the opentracing.Span interface lazySpan implements
	l.span().Log(data)
}
