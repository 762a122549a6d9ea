package tracing

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	"github.com/opentracing/opentracing-go/mocktracer"
	"github.com/uber/jaeger-client-go"

	"github.com/seckill/seckill/internal/platform/httpx"
)

// onlySpan returns the single finished span of tracer, failing otherwise.
func onlySpan(t *testing.T, tracer *mocktracer.MockTracer) *mocktracer.MockSpan {
	t.Helper()
	spans := tracer.FinishedSpans()
	if len(spans) != 1 {
		t.Fatalf("%d finished spans, want 1", len(spans))
	}
	return spans[0]
}

func ctxOf(s *mocktracer.MockSpan) mocktracer.MockSpanContext {
	return s.Context().(mocktracer.MockSpanContext)
}

// serveOnce sends req through Middleware(tracer) to a handler on pattern
// and returns the span the handler saw.
func serveOnce(tracer opentracing.Tracer, pattern string, req *http.Request) opentracing.Span {
	var inHandler opentracing.Span
	r := chi.NewRouter()
	r.Use(Middleware(tracer))
	r.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		inHandler = opentracing.SpanFromContext(r.Context())
	})
	r.ServeHTTP(httptest.NewRecorder(), req)
	return inHandler
}

func TestMiddleware_JoinsIncomingTrace(t *testing.T) {
	tracer := mocktracer.New()
	caller := tracer.StartSpan("caller")
	req := httptest.NewRequest(http.MethodGet, "/products/7", nil)
	if err := tracer.Inject(caller.Context(), opentracing.HTTPHeaders, opentracing.HTTPHeadersCarrier(req.Header)); err != nil {
		t.Fatal(err)
	}

	inHandler := serveOnce(tracer, "/products/{id}", req)

	server := onlySpan(t, tracer)
	if got, want := server.ParentID, ctxOf(caller.(*mocktracer.MockSpan)).SpanID; got != want {
		t.Errorf("server span ParentID = %d, want the caller's span %d", got, want)
	}
	if got, want := ctxOf(server).TraceID, ctxOf(caller.(*mocktracer.MockSpan)).TraceID; got != want {
		t.Errorf("server span TraceID = %d, want %d", got, want)
	}
	if got, want := server.OperationName, "HTTP GET /products/{id}"; got != want {
		t.Errorf("OperationName = %q, want %q", got, want)
	}
	if got, want := server.Tag("span.kind"), any(ext.SpanKindRPCServerEnum); got != want {
		t.Errorf("span.kind = %v, want %v", got, want)
	}
	if inHandler != server {
		t.Error("the handler's context does not carry the server span")
	}
}

func TestMiddleware_StartsTraceWithoutIncomingContext(t *testing.T) {
	tracer := mocktracer.New()
	h := Middleware(tracer)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))
	if got := onlySpan(t, tracer).ParentID; got != 0 {
		t.Errorf("ParentID = %d, want 0 (a new trace)", got)
	}
}

func TestMiddleware_Tags(t *testing.T) {
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		wantCode  uint16
		wantError bool
	}{
		{"ImplicitOK", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") }, 200, false},
		{"NoBody", func(w http.ResponseWriter, r *http.Request) {}, 200, false},
		{"Conflict", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusConflict) }, 409, false},
		{"ServerError", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }, 503, true},
		{"Panic", func(w http.ResponseWriter, r *http.Request) { panic("boom") }, 500, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tracer := mocktracer.New()
			r := chi.NewRouter()
			r.Use(recoverer, Middleware(tracer))
			r.Post("/orders", tc.handler)
			r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/orders?x=1", nil))

			span := onlySpan(t, tracer)
			if got, want := span.Tag("http.status_code"), any(tc.wantCode); got != want {
				t.Errorf("http.status_code = %v, want %v", got, want)
			}
			if got, want := span.Tag("error") == true, tc.wantError; got != want {
				t.Errorf("error tag set = %v, want %v", got, want)
			}
			if got, want := span.Tag("http.method"), any("POST"); got != want {
				t.Errorf("http.method = %v, want %v", got, want)
			}
			if got, want := span.Tag("http.url"), any("/orders?x=1"); got != want {
				t.Errorf("http.url = %v, want %v", got, want)
			}
		})
	}
}

// recoverer stands in for httpx.Recover, outside the tracing middleware.
func recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if recover() != nil {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func TestMiddleware_OperationName(t *testing.T) {
	routes := func(r chi.Router) {
		r.Route("/api", func(api chi.Router) {
			api.Get("/activities/{id}/seckill", func(http.ResponseWriter, *http.Request) {})
		})
	}
	tests := []struct {
		name string
		path string
		want string
	}{
		{"MountedRoute", "/api/activities/3/seckill", "HTTP GET /api/activities/{id}/seckill"},
		// An unmatched path may hold anything: naming spans by it
		// would make a new operation of every id and probe.
		{"UnknownRouteIsNotNamedByPath", "/nope/42", "HTTP GET (no route)"},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/Use", func(t *testing.T) {
			tracer := mocktracer.New()
			r := chi.NewRouter()
			r.Use(Middleware(tracer))
			routes(r)
			r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, tc.path, nil))
			if got := onlySpan(t, tracer).OperationName; got != tc.want {
				t.Errorf("OperationName = %q, want %q", got, tc.want)
			}
		})
		t.Run(tc.name+"/WrappingRouter", func(t *testing.T) {
			tracer := mocktracer.New()
			r := chi.NewRouter()
			routes(r)
			h := Middleware(tracer)(r)
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, tc.path, nil))
			if got := onlySpan(t, tracer).OperationName; got != tc.want {
				t.Errorf("OperationName = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMiddleware_UntracedPaths(t *testing.T) {
	tracer := mocktracer.New()
	r := chi.NewRouter()
	r.Use(Middleware(tracer, "/healthz", "/swagger/"))
	ok := func(http.ResponseWriter, *http.Request) {}
	r.Get("/healthz", ok)
	r.Get("/healthzz", ok)
	r.Get("/swagger/*", ok)
	r.Get("/products/{id}", ok)
	for _, path := range []string{"/healthz", "/swagger/index.html", "/swagger/swagger-ui.css", "/healthzz", "/products/1"} {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	var got []string
	for _, s := range tracer.FinishedSpans() {
		got = append(got, s.OperationName)
	}
	if want := []string{"HTTP GET /healthzz", "HTTP GET /products/{id}"}; !slices.Equal(got, want) {
		t.Errorf("traced %q, want %q", got, want)
	}
}

func TestTransport_NamesCallsByRoutePattern(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		want    string
	}{
		{"WithPattern", "/products/{id}/reservations", "HTTP POST /products/{id}/reservations"},
		{"WithoutPatternNoPath", "", "HTTP POST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tracer := mocktracer.New()
			ctx := context.Background()
			if tc.pattern != "" {
				ctx = httpx.WithRoutePattern(ctx, tc.pattern)
			}
			req := httptest.NewRequest(http.MethodPost, "http://product:8503/products/7/reservations", nil).WithContext(ctx)
			base := roundTripFunc(func(*http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: 201, Body: http.NoBody}, nil
			})
			resp, err := Transport(tracer, base).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := onlySpan(t, tracer).OperationName; got != tc.want {
				t.Errorf("OperationName = %q, want %q", got, tc.want)
			}
		})
	}
}

type plainHandler struct{}

func (plainHandler) ServeHTTP(http.ResponseWriter, *http.Request) {}

func TestMiddleware_NoopTracerStepsAside(t *testing.T) {
	for _, tracer := range []opentracing.Tracer{opentracing.NoopTracer{}, &opentracing.NoopTracer{}, nil} {
		if got := Middleware(tracer)(plainHandler{}); got != (plainHandler{}) {
			t.Errorf("Middleware(%T) wrapped the handler in %T, want it returned as is", tracer, got)
		}
	}
}

func TestTransport_EndToEnd(t *testing.T) {
	tracer := mocktracer.New()
	var gotHeader http.Header
	peer := chi.NewRouter()
	peer.Use(Middleware(tracer))
	peer.Get("/products/{id}", func(w http.ResponseWriter, r *http.Request) {
		gotHeader = r.Header.Clone()
	})
	srv := httptest.NewServer(peer)
	defer srv.Close()

	root := tracer.StartSpan("handler")
	ctx := opentracing.ContextWithSpan(context.Background(), root)
	client := &http.Client{Transport: Transport(tracer, nil)}
	ctx = httpx.WithRoutePattern(ctx, "/products/{id}")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/products/42", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	root.Finish()

	if len(req.Header) != 0 {
		t.Errorf("the caller's request was modified: headers %v", req.Header)
	}
	if len(gotHeader) == 0 || gotHeader.Get("Mockpfx-Ids-Traceid") == "" {
		t.Errorf("the peer received no trace headers: %v", gotHeader)
	}

	byName := map[string]*mocktracer.MockSpan{}
	for _, s := range tracer.FinishedSpans() {
		byName[s.OperationName] = s
	}
	clientSpan, serverSpan := byName["HTTP GET /products/{id}"], (*mocktracer.MockSpan)(nil)
	for _, s := range tracer.FinishedSpans() {
		if s.Tag("span.kind") == ext.SpanKindRPCServerEnum {
			serverSpan = s
		} else if s != root {
			clientSpan = s
		}
	}
	if clientSpan == nil || serverSpan == nil || clientSpan.OperationName != "HTTP GET /products/{id}" || serverSpan.OperationName != "HTTP GET /products/{id}" {
		t.Fatalf("finished spans %v, want a client and a server span", byName)
	}
	if got, want := clientSpan.ParentID, ctxOf(root.(*mocktracer.MockSpan)).SpanID; got != want {
		t.Errorf("client span ParentID = %d, want the root span %d", got, want)
	}
	if got, want := serverSpan.ParentID, ctxOf(clientSpan).SpanID; got != want {
		t.Errorf("server span ParentID = %d, want the client span %d", got, want)
	}
	if ctxOf(clientSpan).TraceID != ctxOf(serverSpan).TraceID {
		t.Errorf("client trace %d and server trace %d differ", ctxOf(clientSpan).TraceID, ctxOf(serverSpan).TraceID)
	}
	if got, want := clientSpan.Tag("span.kind"), any(ext.SpanKindRPCClientEnum); got != want {
		t.Errorf("span.kind = %v, want %v", got, want)
	}
	if got, want := clientSpan.Tag("http.status_code"), any(uint16(200)); got != want {
		t.Errorf("http.status_code = %v, want %v", got, want)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTransport_Errors(t *testing.T) {
	tests := []struct {
		name     string
		base     roundTripFunc
		wantCode any
	}{
		{"ServerError", func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 502, Body: http.NoBody}, nil
		}, uint16(502)},
		{"Unreachable", func(*http.Request) (*http.Response, error) {
			return nil, errors.New("connection refused")
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tracer := mocktracer.New()
			req := httptest.NewRequest(http.MethodGet, "http://order:8505/orders", nil)
			resp, err := Transport(tracer, tc.base).RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			span := onlySpan(t, tracer)
			if got := span.Tag("error"); got != true {
				t.Errorf("error tag = %v, want true", got)
			}
			if got := span.Tag("http.status_code"); got != tc.wantCode {
				t.Errorf("http.status_code = %v, want %v", got, tc.wantCode)
			}
			if got, want := span.ParentID, 0; got != want {
				t.Errorf("ParentID = %d, want %d (no span in the context)", got, want)
			}
		})
	}
}

func TestTransport_NoopTracerReturnsBase(t *testing.T) {
	base := &http.Transport{}
	if got := Transport(opentracing.NoopTracer{}, base); got != base {
		t.Errorf("Transport(NoopTracer, base) = %T, want base itself", got)
	}
	if got := Transport(opentracing.NoopTracer{}, nil); got != http.DefaultTransport {
		t.Errorf("Transport(NoopTracer, nil) = %T, want http.DefaultTransport", got)
	}
}

// jaegerTracer returns a Jaeger tracer that keeps its reported spans in
// memory and samples every trace or none.
func jaegerTracer(t *testing.T, sample bool) (opentracing.Tracer, *jaeger.InMemoryReporter) {
	t.Helper()
	rep := jaeger.NewInMemoryReporter()
	tracer, closer := jaeger.NewTracer("test", jaeger.NewConstSampler(sample), rep)
	t.Cleanup(func() { closer.Close() })
	return tracer, rep
}

const seckillRoute = "/activities/{id}/seckill"

func TestMiddleware_Jaeger(t *testing.T) {
	t.Run("UnsampledRequestsStillCarryATrace", func(t *testing.T) {
		tracer, rep := jaegerTracer(t, false)
		span := serveOnce(tracer, seckillRoute, httptest.NewRequest(http.MethodPost, "/activities/1/seckill", nil))
		if span == nil {
			t.Fatal("the handler saw no span")
		}
		sc := span.Context().(jaeger.SpanContext)
		if !sc.IsValid() || sc.IsSampled() {
			t.Errorf("span context %v: want a valid, unsampled trace", sc)
		}
		if got := rep.SpansSubmitted(); got != 0 {
			t.Errorf("%d spans reported, want 0", got)
		}
	})
	t.Run("SampledRequestsAreReportedWithRouteAndTags", func(t *testing.T) {
		tracer, rep := jaegerTracer(t, true)
		serveOnce(tracer, seckillRoute, httptest.NewRequest(http.MethodPost, "/activities/1/seckill", nil))
		spans := rep.GetSpans()
		if len(spans) != 1 {
			t.Fatalf("%d spans reported, want 1", len(spans))
		}
		s := spans[0].(*jaeger.Span)
		if got, want := s.OperationName(), "HTTP POST /activities/{id}/seckill"; got != want {
			t.Errorf("OperationName = %q, want %q", got, want)
		}
		tags := s.Tags()
		if got, want := tags["http.status_code"], any(uint16(200)); got != want {
			t.Errorf("http.status_code = %v, want %v", got, want)
		}
		if got, want := tags["http.url"], any("/activities/1/seckill"); got != want {
			t.Errorf("http.url = %v, want %v", got, want)
		}
	})
	t.Run("JoinsACallersTrace", func(t *testing.T) {
		caller, _ := jaegerTracer(t, true)
		parent := caller.StartSpan("caller")
		req := httptest.NewRequest(http.MethodPost, "/activities/1/seckill", nil)
		if err := caller.Inject(parent.Context(), opentracing.HTTPHeaders, opentracing.HTTPHeadersCarrier(req.Header)); err != nil {
			t.Fatal(err)
		}
		// The server never samples on its own: the caller's decision wins.
		tracer, rep := jaegerTracer(t, false)
		serveOnce(tracer, seckillRoute, req)
		spans := rep.GetSpans()
		if len(spans) != 1 {
			t.Fatalf("%d spans reported, want 1 (the caller sampled the trace)", len(spans))
		}
		got, want := spans[0].Context().(jaeger.SpanContext), parent.Context().(jaeger.SpanContext)
		if got.TraceID() != want.TraceID() || got.ParentID() != want.SpanID() {
			t.Errorf("server span %v, want a child of %v", got, want)
		}
	})
	t.Run("ReadsBaggageAlone", func(t *testing.T) {
		tracer, _ := jaegerTracer(t, false)
		req := httptest.NewRequest(http.MethodPost, "/activities/1/seckill", nil)
		req.Header.Set("Uberctx-Tenant", "shop-7")
		span := serveOnce(tracer, seckillRoute, req)
		if got, want := span.BaggageItem("tenant"), "shop-7"; got != want {
			t.Errorf("baggage tenant = %q, want %q", got, want)
		}
	})
}
