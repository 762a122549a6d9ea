package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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

// TestLoadConfig_ShutdownDrain reads SHUTDOWN_DRAIN: off by default, a
// duration when set, and a start-up error naming the variable when it is
// negative or not a duration.
func TestLoadConfig_ShutdownDrain(t *testing.T) {
	for _, tc := range []struct {
		value   string
		want    time.Duration
		wantErr bool
	}{
		{"", 0, false},
		{"0s", 0, false},
		{"3s", 3 * time.Second, false},
		{"-1s", 0, true},
		{"soon", 0, true},
	} {
		t.Run("SHUTDOWN_DRAIN="+tc.value, func(t *testing.T) {
			env := config.New(func(k string) string {
				return map[string]string{"SHUTDOWN_DRAIN": tc.value, "AUTH_DISABLED": "true"}[k]
			})
			cfg := app.LoadConfig(env, "drainer", ":0")
			err := env.Err()
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "SHUTDOWN_DRAIN") {
					t.Errorf("SHUTDOWN_DRAIN=%q: error %v, want one naming SHUTDOWN_DRAIN", tc.value, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("SHUTDOWN_DRAIN=%q: %v", tc.value, err)
			}
			if got := cfg.HTTP.Drain; got != tc.want {
				t.Errorf("SHUTDOWN_DRAIN=%q: drain %s, want %s", tc.value, got, tc.want)
			}
		})
	}
}

// TestLoadConfig_BodyGrace reads HTTP_BODY_GRACE: 500ms by default, 0 to turn
// it off, and a start-up error naming it when it is negative, not a
// duration, or not below HTTP_READ_TIMEOUT (which would always act first).
func TestLoadConfig_BodyGrace(t *testing.T) {
	for _, tc := range []struct {
		grace, readTimeout string
		want               time.Duration
		wantErr            bool
	}{
		{"", "", 500 * time.Millisecond, false},
		{"0s", "", 0, false},
		{"500ms", "", 500 * time.Millisecond, false},
		{"9s", "", 9 * time.Second, false},
		{"10s", "", 0, true},
		{"3s", "2s", 0, true},
		{"30s", "0s", 30 * time.Second, false},
		{"-1s", "", 0, true},
		{"soon", "", 0, true},
	} {
		t.Run("HTTP_BODY_GRACE="+tc.grace+",HTTP_READ_TIMEOUT="+tc.readTimeout, func(t *testing.T) {
			env := config.New(func(k string) string {
				return map[string]string{"HTTP_BODY_GRACE": tc.grace, "HTTP_READ_TIMEOUT": tc.readTimeout, "AUTH_DISABLED": "true"}[k]
			})
			cfg := app.LoadConfig(env, "grace", ":0")
			err := env.Err()
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "HTTP_BODY_GRACE") {
					t.Errorf("error %v, want one naming HTTP_BODY_GRACE", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.HTTP.BodyGrace; got != tc.want {
				t.Errorf("grace %s, want %s", got, tc.want)
			}
		})
	}
}

// TestRun_DrainsBeforeItStopsAccepting cancels the context of a service
// that has SHUTDOWN_DRAIN set, as SIGTERM does: for the drain, /readyz
// answers 503 with the error envelope while another route still answers
// 200, each answer asking its client to close the connection; only when
// the drain has passed does the listener refuse connections, and Run
// returns without error.
func TestRun_DrainsBeforeItStopsAccepting(t *testing.T) {
	const drain = 3 * time.Second
	run := func(ctx context.Context, getenv func(string) string, stderr io.Writer, opt app.Options) error {
		env := config.New(getenv)
		cfg := app.LoadConfig(env, "drainer", "")
		if err := env.Err(); err != nil {
			return err
		}
		return app.Run(ctx, cfg, migrations.Product, stderr, func(ctx context.Context, d app.Deps) (*app.Service, error) {
			return &app.Service{Routes: func(r chi.Router) {
				r.Get("/work", func(w http.ResponseWriter, r *http.Request) { httpx.OK(w, "done") })
			}}, nil
		}, opt)
	}
	s := svctest.Start(t, run, map[string]string{"DATABASE_URL": pgtest.NewDB(t), "MIGRATE_ON_START": "false",
		"SHUTDOWN_DRAIN": drain.String()})
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (*http.Response, []byte, error) {
		resp, err := client.Get(s.Direct + path)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp, body, err
	}
	if resp, body, err := get("/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /readyz before the shutdown: %v %v %s", err, resp, body)
	}

	cancelled := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop() }()

	// The readiness check fails at once, so a balancer stops sending here.
	var notReady httpx.ErrorEnvelope
	for {
		resp, body, err := get("/readyz")
		if err != nil {
			t.Fatalf("GET /readyz during the drain: %v", err)
		}
		if resp.StatusCode == http.StatusServiceUnavailable {
			if err := json.Unmarshal(body, &notReady); err != nil {
				t.Fatalf("GET /readyz during the drain: %v in %s", err, body)
			}
			break
		}
		if time.Since(cancelled) > drain/2 {
			t.Fatalf("GET /readyz still answers %d %s %s after the cancel", resp.StatusCode, time.Since(cancelled), body)
		}
		time.Sleep(10 * time.Millisecond) // polling interval of a deadline-bounded wait
	}
	if notReady.Error != "unavailable" || notReady.StatusCode != http.StatusServiceUnavailable || !strings.Contains(notReady.Message, "shutting down") {
		t.Errorf("GET /readyz during the drain: %+v, want the unavailable envelope saying it is shutting down", notReady)
	}

	// Every other request is still served, on a new connection each,
	// until the listener closes when the drain has passed.
	served := 0
	for {
		resp, body, err := get("/work")
		if err != nil {
			break // the listener closed: refused, or reset at the instant it closed
		}
		if resp.StatusCode != http.StatusOK || !resp.Close {
			t.Fatalf("GET /work during the drain: %d, Connection %q, %s; want 200 asking to close the connection",
				resp.StatusCode, resp.Header.Get("Connection"), body)
		}
		served++
		if time.Since(cancelled) > drain+10*time.Second {
			t.Fatalf("still accepting %s after the cancel, with a drain of %s", time.Since(cancelled), drain)
		}
		time.Sleep(20 * time.Millisecond) // polling interval of a deadline-bounded wait
	}
	stoppedAfter := time.Since(cancelled)
	if served == 0 {
		t.Error("no request was served during the drain")
	}
	if stoppedAfter < drain {
		t.Errorf("stopped accepting %s after the cancel, before the drain of %s had passed", stoppedAfter, drain)
	}
	// From now on a new connection is refused.
	for {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.Direct, "http://"), time.Second)
		if errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		if err == nil {
			c.Close()
		}
		if time.Since(cancelled) > drain+10*time.Second {
			t.Fatalf("a new connection is not refused %s after the cancel: %v", time.Since(cancelled), err)
		}
		time.Sleep(10 * time.Millisecond) // polling interval of a deadline-bounded wait
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15s of the end of the drain")
	}
	t.Logf("drain of %s: %d requests served with /readyz at 503; new connections refused %s after the cancel",
		drain, served, stoppedAfter.Round(time.Millisecond))
}
