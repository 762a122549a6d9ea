package tracing

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opentracing/opentracing-go"
	"github.com/uber/jaeger-client-go"
)

// startCounter counts the spans a Jaeger tracer starts.
type startCounter struct{ n atomic.Int64 }

func (c *startCounter) OnStartSpan(opentracing.Span, string, opentracing.StartSpanOptions) (jaeger.ContribSpanObserver, bool) {
	c.n.Add(1)
	return nil, false
}

func countingTracer(t *testing.T, sampler jaeger.Sampler) (opentracing.Tracer, *startCounter, *jaeger.InMemoryReporter) {
	t.Helper()
	c := &startCounter{}
	rep := jaeger.NewInMemoryReporter()
	tracer, closer := jaeger.NewTracer("test", sampler, rep, jaeger.TracerOptions.ContribObserver(c))
	t.Cleanup(func() { closer.Close() })
	return tracer, c, rep
}

// An unsampled request that asks nothing of its trace costs the tracer no
// span at all; one that asks (a call to another service does) gets the
// same unsampled, valid trace context as before.
func TestMiddleware_AnUnsampledRootMakesNoSpanUntilAsked(t *testing.T) {
	tracer, started, rep := countingTracer(t, jaeger.NewConstSampler(false))
	quiet := Middleware(tracer)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for range 50 {
		quiet.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/activities/1/seckill", nil))
	}
	if n := started.n.Load(); n != 0 {
		t.Errorf("%d spans started for 50 requests that used none, want 0", n)
	}

	var seen []jaeger.SpanContext
	asking := Middleware(tracer)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, opentracing.SpanFromContext(r.Context()).Context().(jaeger.SpanContext))
	}))
	for range 3 {
		asking.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/activities/1/seckill", nil))
	}
	if n := started.n.Load(); n != 3 {
		t.Errorf("%d spans started for 3 requests that asked for their trace, want 3", n)
	}
	for i, sc := range seen {
		if !sc.IsValid() || sc.IsSampled() || !sc.IsSamplingFinalized() {
			t.Errorf("request %d: span context %v, want a valid trace, finally unsampled", i, sc)
		}
		if i > 0 && sc.TraceID() == seen[i-1].TraceID() {
			t.Errorf("requests %d and %d share trace %v", i-1, i, sc.TraceID())
		}
	}
	if got := rep.SpansSubmitted(); got != 0 {
		t.Errorf("%d spans reported, want 0", got)
	}
}

// The middleware decides on the trace id it draws exactly as the tracer's
// sampler does, and the tracer, deciding again on that id, agrees: a root
// the middleware samples is reported, one it does not is not, whatever is
// asked of it.
func TestStartRoot_DecidesAsTheTracersSampler(t *testing.T) {
	sampler, err := jaeger.NewProbabilisticSampler(0.5)
	if err != nil {
		t.Fatal(err)
	}
	tracer, _, rep := countingTracer(t, sampler)
	decide := rootSamplerOf(tracer)
	if decide == nil {
		t.Fatal("no root sampler for a probabilistic sampler")
	}
	var sampledRoots, lazyRoots int
	for i := 0; i < 400 && (sampledRoots < 20 || lazyRoots < 20); i++ {
		id := newTraceID()
		want, _ := sampler.IsSampled(id, "")
		if decide(id) != want {
			t.Fatalf("trace %v: middleware decided %v, sampler %v", id, decide(id), want)
		}
		span := startRoot(tracer, decide, "HTTP POST", time.Now())
		sc := span.Context().(jaeger.SpanContext) // a lazy root is made here
		if _, lazy := span.(*lazySpan); lazy {
			lazyRoots++
			if sc.IsSampled() {
				t.Errorf("a lazy root became sampled trace %v", sc.TraceID())
			}
		} else {
			sampledRoots++
			if !sc.IsSampled() {
				t.Errorf("a root the middleware sampled is unsampled: trace %v", sc.TraceID())
			}
		}
		span.Finish()
	}
	if sampledRoots < 20 || lazyRoots < 20 {
		t.Fatalf("%d sampled and %d lazy roots in 400 draws at p=0.5", sampledRoots, lazyRoots)
	}
	if got := rep.SpansSubmitted(); got != sampledRoots {
		t.Errorf("%d spans reported, want the %d sampled roots", got, sampledRoots)
	}
}

// Other samplers (rate limiting, remote) decide on more than the trace id:
// the middleware leaves those roots to the tracer.
func TestRootSamplerOf_OnlyForSamplersThatDecideOnTheTraceID(t *testing.T) {
	rl := jaeger.NewRateLimitingSampler(1)
	tracer, closer := jaeger.NewTracer("test", rl, jaeger.NewNullReporter())
	defer closer.Close()
	if rootSamplerOf(tracer) != nil {
		t.Error("a root sampler for a rate-limiting sampler")
	}
	if rootSamplerOf(opentracing.NoopTracer{}) != nil {
		t.Error("a root sampler for a NoopTracer")
	}
}
