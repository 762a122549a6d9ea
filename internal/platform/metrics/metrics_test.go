package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// scrape returns what GET /metrics answers.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d, want 200", rec.Code)
	}
	b, err := io.ReadAll(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantLines(t *testing.T, body string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(body, l+"\n") {
			t.Errorf("/metrics lacks %s", l)
		}
	}
}

// routes is a service's route table in miniature.
func routes(r chi.Router) {
	r.Get("/products/{id}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") })
	r.Route("/activities/{id}", func(r chi.Router) {
		r.Post("/seckill", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusConflict) })
	})
	r.Get("/boom", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
}

// recoverer stands in for httpx.Recover, outside the metrics middleware.
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

func TestMiddleware_CountsByRoutePattern(t *testing.T) {
	setups := map[string]func(m *Metrics) http.Handler{
		"Use": func(m *Metrics) http.Handler {
			r := chi.NewRouter()
			r.Use(recoverer, m.Middleware)
			routes(r)
			return r
		},
		"WrappingRouter": func(m *Metrics) http.Handler {
			r := chi.NewRouter()
			routes(r)
			return recoverer(m.Middleware(r))
		},
	}
	for name, setup := range setups {
		t.Run(name, func(t *testing.T) {
			m := New("activity")
			h := setup(m)
			for _, req := range []struct{ method, path string }{
				{"GET", "/products/1"},
				{"GET", "/products/2"},
				{"POST", "/activities/9/seckill"},
				{"GET", "/no/such/route"},
				{"GET", "/another/missing/route"},
				{"GET", "/boom"},
				{"BREW", "/products/1"},
			} {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(req.method, req.path, nil))
			}

			body := scrape(t, m)
			wantLines(t, body,
				`http_requests_total{method="GET",route="/products/{id}",service="activity",status="200"} 2`,
				`http_requests_total{method="POST",route="/activities/{id}/seckill",service="activity",status="409"} 1`,
				`http_requests_total{method="GET",route="unmatched",service="activity",status="404"} 2`,
				`http_requests_total{method="GET",route="/boom",service="activity",status="500"} 1`,
				`http_request_duration_seconds_count{method="GET",route="/products/{id}",service="activity"} 2`,
				`http_request_duration_seconds_count{method="POST",route="/activities/{id}/seckill",service="activity"} 1`,
			)
			if strings.Contains(body, "/no/such/route") {
				t.Error("an unmatched path became a label value")
			}
			if strings.Contains(body, `method="BREW"`) {
				t.Error("a made-up method became a label value")
			}
			if !strings.Contains(body, "go_goroutines") || !strings.Contains(body, "process_") {
				t.Error("/metrics lacks the Go or process collectors")
			}
		})
	}
}

func TestNew_RegistriesAreIndependent(t *testing.T) {
	a, b := New("product"), New("order")
	a.Middleware(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))

	if body := scrape(t, b); strings.Contains(body, "http_requests_total{") {
		t.Error("a request to one service shows in another's metrics")
	}
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "http_request") {
			t.Errorf("%s is registered globally", mf.GetName())
		}
	}
}

func TestMetrics_Helpers(t *testing.T) {
	m := New("activity")
	outcomes, err := m.Counter("seckill_outcomes_total", "Seckill attempts by outcome.", "outcome")
	if err != nil {
		t.Fatal(err)
	}
	outcomes.WithLabelValues("won").Add(3)
	batch, err := m.Histogram("group_commit_batch_size", "Purchases per commit.", []float64{1, 10, 100})
	if err != nil {
		t.Fatal(err)
	}
	batch.WithLabelValues().Observe(42)
	if err := m.GaugeFunc("relay_backlog", "Orders waiting to be relayed.", func() float64 { return 7 }); err != nil {
		t.Fatal(err)
	}

	wantLines(t, scrape(t, m),
		`seckill_outcomes_total{outcome="won",service="activity"} 3`,
		`group_commit_batch_size_bucket{service="activity",le="100"} 1`,
		`relay_backlog{service="activity"} 7`,
	)

	t.Run("ErrAlreadyRegistered", func(t *testing.T) {
		if _, err := m.Counter("seckill_outcomes_total", "again", "outcome"); err == nil {
			t.Error("registering a name twice succeeded, want an error")
		}
	})
}

func TestMiddleware_Allocations(t *testing.T) {
	r := chi.NewRouter()
	routes(r)
	m := New("activity")
	withMetrics := chi.NewRouter()
	withMetrics.Use(m.Middleware)
	routes(withMetrics)

	req := httptest.NewRequest(http.MethodGet, "/products/1", nil)
	w := discard{h: http.Header{}}
	bare := testing.AllocsPerRun(200, func() { r.ServeHTTP(w, req) })
	instrumented := testing.AllocsPerRun(200, func() { withMetrics.ServeHTTP(w, req) })
	// One allocation is the status recorder; the label lookup adds none.
	if extra := instrumented - bare; extra > 1 {
		t.Errorf("the middleware allocates %v times per request, want at most 1", extra)
	}
}

// discard is a ResponseWriter that allocates nothing, unlike a recorder
// whose growing body would blur the count.
type discard struct{ h http.Header }

func (d discard) Header() http.Header       { return d.h }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// BenchmarkMiddleware compares a chi router with and without the
// middleware, so the difference is the middleware's cost.
func BenchmarkMiddleware(b *testing.B) {
	bare := chi.NewRouter()
	routes(bare)
	instrumented := chi.NewRouter()
	instrumented.Use(New("activity").Middleware)
	routes(instrumented)
	for name, h := range map[string]http.Handler{"Bare": bare, "Instrumented": instrumented} {
		b.Run(name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/products/1", nil)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := discard{h: http.Header{}}
				for pb.Next() {
					h.ServeHTTP(w, req)
				}
			})
		})
	}
}
