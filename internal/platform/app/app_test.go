package app_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/seckill/seckill/internal/platform/app"
	"github.com/seckill/seckill/internal/platform/config"
	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/platform/httpx"
	"github.com/seckill/seckill/internal/testing/pgtest"
	"github.com/seckill/seckill/internal/testing/svctest"
	"github.com/seckill/seckill/migrations"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// syncBuffer is a log destination two goroutines may write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRun_EachServiceLogsToItsOwnStderr starts two services in one process
// and makes each fail a request: each failure is logged by its own service,
// to its own stderr. (With a process-wide default logger, the service
// started last wrote everyone's lines.)
func TestRun_EachServiceLogsToItsOwnStderr(t *testing.T) {
	dbURL := pgtest.NewDB(t)
	start := func(name string) (*svctest.Service, *syncBuffer) {
		logs := &syncBuffer{}
		run := func(ctx context.Context, getenv func(string) string, _ io.Writer, opt app.Options) error {
			cfg := app.LoadConfig(config.New(getenv), name, "")
			return app.Run(ctx, cfg, migrations.Product, logs, func(ctx context.Context, d app.Deps) (*app.Service, error) {
				return &app.Service{Routes: func(r chi.Router) {
					r.Get("/boom", func(w http.ResponseWriter, r *http.Request) {
						httpx.Error(w, r, errs.E(errs.Internal, "%s failed on purpose", name))
					})
				}}, nil
			}, opt)
		}
		return svctest.Start(t, run, map[string]string{"DATABASE_URL": dbURL, "MIGRATE_ON_START": "false", "LOG_LEVEL": "info"}), logs
	}
	alpha, alphaLogs := start("alpha")
	beta, betaLogs := start("beta")
	for _, s := range []*svctest.Service{alpha, beta} {
		if r := svctest.Do(t, "GET", s.URL+"/boom", nil); r.Status != 500 {
			t.Fatalf("GET /boom: %d %s", r.Status, r.Raw)
		}
	}
	for _, tc := range []struct {
		logs        *syncBuffer
		own, others string
	}{
		{alphaLogs, "alpha", "beta"},
		{betaLogs, "beta", "alpha"},
	} {
		out := tc.logs.String()
		if !strings.Contains(out, `"msg":"request failed"`) || !strings.Contains(out, tc.own+" failed on purpose") {
			t.Errorf("%s's log lacks its failed request:\n%s", tc.own, out)
		}
		if strings.Contains(out, tc.others) {
			t.Errorf("%s's log holds %s's lines:\n%s", tc.own, tc.others, out)
		}
	}
}
