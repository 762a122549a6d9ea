package svctest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/go-chi/chi/v5"

	_ "github.com/seckill/seckill/api/product" // the document the wrong service serves
	"github.com/seckill/seckill/internal/platform/app"
	"github.com/seckill/seckill/internal/platform/config"
	"github.com/seckill/seckill/internal/testing/pgtest"
	"github.com/seckill/seckill/internal/testing/svctest"
	"github.com/seckill/seckill/migrations"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// wrongProductService serves the product service's document and routes, but
// its GET /products/{id} answers a field the document does not have.
func wrongProductService(ctx context.Context, getenv func(string) string, stderr io.Writer, opt app.Options) error {
	env := config.New(getenv)
	cfg := app.LoadConfig(env, "product", ":0")
	if err := env.Err(); err != nil {
		return err
	}
	return app.Run(ctx, cfg, migrations.Product, stderr, func(ctx context.Context, d app.Deps) (*app.Service, error) {
		return &app.Service{Swagger: "product", Routes: func(r chi.Router) {
			r.Get("/products/{id}", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				fmt.Fprint(w, `{"code":0,"message":"ok","data":{"id":1,"name":"Keyboard","description":"","price":9.99,`+
					`"inventory":5,"reserved":0,"color":"red","created_at":"2026-11-01T08:00:00Z","updated_at":"2026-11-01T08:00:00Z"}}`)
			})
		}}, nil
	}, opt)
}

// recorder is a testing.TB that keeps the errors reported to it instead of
// failing the test, so a test can look at them.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) reported() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errors, "\n")
}

func TestStart_AnswersTheDocumentDoesNotDescribeFailTheTest(t *testing.T) {
	rec := &recorder{TB: t}
	s := svctest.Start(rec, wrongProductService, map[string]string{"DATABASE_URL": pgtest.NewDB(t)})

	r := svctest.Do(t, "GET", s.URL+"/products/1", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("the wrong handler answered %d %s", r.Status, r.Raw)
	}
	if got := rec.reported(); !strings.Contains(got, "contract: GET /products/1 answered 200") || !strings.Contains(got, "color") {
		t.Errorf("the undocumented field passed the contract check; reported: %q", got)
	}

	// A documented answer is not reported.
	before := rec.reported()
	svctest.Do(t, "GET", s.URL+"/healthz", nil)
	if got := rec.reported(); got != before {
		t.Errorf("a documented answer was reported: %q", strings.TrimPrefix(got, before))
	}
}
