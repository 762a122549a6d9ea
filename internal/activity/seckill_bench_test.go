package activity

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/seckill/seckill/internal/platform/app"
	"github.com/seckill/seckill/internal/platform/auth"
	"github.com/seckill/seckill/internal/platform/db"
	"github.com/seckill/seckill/internal/platform/httpx"
	"github.com/seckill/seckill/internal/platform/metrics"
	"github.com/seckill/seckill/internal/platform/tracing"
	"github.com/seckill/seckill/internal/seckill"
)

// instantStore is a seckill.Store that commits in memory at once, so the
// benchmarks below measure the handler and the engine, not a database.
type instantStore struct {
	mu        sync.Mutex
	remaining int64
	winners   map[int64]uuid.UUID
}

func (s *instantStore) Snapshot(ctx context.Context, id int64) (seckill.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := map[int64]uuid.UUID{}
	for k, v := range s.winners {
		w[k] = v
	}
	return seckill.Snapshot{Activity: seckill.Activity{ID: id, Stock: s.remaining, Remaining: s.remaining,
		StartTime: time.Now().Add(-time.Hour), EndTime: time.Now().Add(time.Hour)}, Winners: w}, nil
}

func (s *instantStore) Commit(ctx context.Context, id int64, claims []seckill.Claim) ([]seckill.Outcome, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	outs := make([]seckill.Outcome, len(claims))
	for i, c := range claims {
		if s.remaining > 0 {
			s.remaining--
			s.winners[c.UserID] = c.OrderID
			outs[i] = seckill.Outcome{Status: seckill.Won, OrderID: c.OrderID}
		} else {
			outs[i] = seckill.Outcome{Status: seckill.SoldOut}
		}
	}
	return outs, s.remaining, nil
}

func (s *instantStore) Resolve(ctx context.Context, id int64, users []int64) (map[int64]uuid.UUID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int64]uuid.UUID{}
	for k, v := range s.winners {
		out[k] = v
	}
	return out, nil
}

// openBuyers is the production set-up without USER_JWT_SECRET: the
// administrative routes need tokens, buyers do not.
func openBuyers() *auth.Authenticator {
	return auth.New(auth.Config{AdminToken: "bench-admin-token-0123456789", ServiceToken: "bench-service-token-0123456789"}, nil)
}

func benchHandler(b *testing.B, stock int64) (http.Handler, *seckill.Engine) {
	e := seckill.New(&instantStore{remaining: stock, winners: map[int64]uuid.UUID{}}, seckill.Options{Now: benchClock()})
	b.Cleanup(func() { _ = e.Close(context.Background()) })
	r := chi.NewRouter()
	routes(r, nil, nil, nil, productClient{}, e, limits{}, nil, openBuyers(), nil, nil)
	return r, e
}

func benchBuy(b *testing.B, h http.Handler, want string) {
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			u := next.Add(1)
			req := httptest.NewRequest("POST", "/activities/1/seckill", strings.NewReader(`{"user_id":`+strconv.FormatInt(u, 10)+`}`))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 || !strings.Contains(w.Body.String(), want) {
				b.Fatalf("answer %d %s, want %s", w.Code, w.Body.String(), want)
			}
		}
	})
}

// BenchmarkSeckillHandler_SoldOut is the path nearly every request of a
// flash sale takes: routing, parsing, the gate's lock-free final map, and
// the answer.
func BenchmarkSeckillHandler_SoldOut(b *testing.B) {
	h, e := benchHandler(b, 1)
	if _, err := e.Buy(context.Background(), 1, -1); err != nil {
		b.Fatal(err)
	}
	benchBuy(b, h, `"sold_out"`)
}

// BenchmarkSeckillHandler_Winning goes through the gate and the group
// committer for every request, against a store with no latency.
func BenchmarkSeckillHandler_Winning(b *testing.B) {
	h, _ := benchHandler(b, 1<<40)
	benchBuy(b, h, `"won"`)
}

// BenchmarkSoldOutPath is one request of the sold-out phase served the
// way the service serves it, without a network or a client in the way: the
// request deadline, the default middleware (request id, metrics, tracing
// at the default sampler, CORS, the access log to a file) and the seckill
// handler answering from the final winners map. One request value is
// reused and the writer discards, so allocs/op is the service's own count
// per request, beside a bare handler's in the same harness.
func BenchmarkSoldOutPath(b *testing.B) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"code":0,"message":"ok","data":{"won":false,"status":"sold_out"}}` + "\n"))
	})
	b.Run("bare", func(b *testing.B) { serveRepeatedly(b, bare) })

	// Layer by layer, so that the differences are what each costs: the
	// handler alone behind the router and the request context, then the
	// middleware without tracing or the access log, then with tracing at
	// the default sampler, then the default configuration (both).
	e := seckill.New(&instantStore{remaining: 1, winners: map[int64]uuid.UUID{}}, seckill.Options{Now: benchClock()})
	b.Cleanup(func() { _ = e.Close(context.Background()) })
	if _, err := e.Buy(context.Background(), 1, -1); err != nil {
		b.Fatal(err)
	}
	handler := chi.NewRouter()
	routes(handler, nil, nil, nil, productClient{}, e, limits{}, nil, openBuyers(), nil, nil)
	for _, v := range []struct {
		name string
		h    http.Handler
	}{
		{"handler", handler},
		{"middleware", soldOutStack(b, map[string]string{"JAEGER_DISABLED": "true"}, false)},
		{"middleware+tracing", soldOutStack(b, map[string]string{}, false)},
		{"default", soldOutStack(b, map[string]string{}, true)},
	} {
		b.Run(v.name, func(b *testing.B) { serveRepeatedly(b, httpx.WithRequest(v.h, 10*time.Second)) })
	}
}

// soldOutStack is the activity service's router with the middleware app
// gives it under env, the access log to a file when accessLog is set, and
// an engine whose one activity is sold out.
func soldOutStack(b *testing.B, env map[string]string, accessLog bool) http.Handler {
	getenv := func(k string) string { return env[k] }
	tracer, closer, err := tracing.New("activity", getenv, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { closer.Close() })
	e := seckill.New(&instantStore{remaining: 1, winners: map[int64]uuid.UUID{}}, seckill.Options{Now: benchClock()})
	b.Cleanup(func() { _ = e.Close(context.Background()) })
	if _, err := e.Buy(context.Background(), 1, -1); err != nil {
		b.Fatal(err)
	}
	var access *httpx.AccessLogger
	if accessLog {
		f, err := os.Create(filepath.Join(b.TempDir(), "access.log"))
		if err != nil {
			b.Fatal(err)
		}
		access = httpx.NewAccessLogger(f, "activity", 0)
		b.Cleanup(func() { access.Close(); f.Close() })
	}
	cfg := app.Config{Name: "activity", CORS: httpx.CORSConfig{AllowOrigin: "*"}, Getenv: getenv}
	r := app.NewRouter(cfg, nil, metrics.New("activity"), tracer, access)
	routes(r, nil, nil, nil, productClient{}, e, limits{}, nil, openBuyers(), nil, nil)
	return r
}

// serveRepeatedly serves the same sold-out purchase request over and over.
func serveRepeatedly(b *testing.B, h http.Handler) {
	body := []byte(`{"user_id":12345}`)
	req := httptest.NewRequest(http.MethodPost, "/activities/1/seckill", nil)
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = "127.0.0.1:40000"
	rb := &reusableBody{}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		rb.Reset(body)
		req.Body = rb
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

type reusableBody struct{ bytes.Reader }

func (*reusableBody) Close() error { return nil }

// discardWriter is a ResponseWriter that allocates nothing of its own.
type discardWriter struct {
	h      http.Header
	status int
}

func (d *discardWriter) Header() http.Header { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	return len(b), nil
}
func (d *discardWriter) WriteHeader(code int) { d.status = code }

// benchClock is the service's window clock, db.Clock.Now (the local clock
// plus the measured offset to the database's), so the benchmarks pay what a
// request pays; the offset stays zero, which costs the same.
func benchClock() func() time.Time { return db.NewClock(nil, nil).Now }
