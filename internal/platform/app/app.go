package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/opentracing/opentracing-go"
	httpSwagger "github.com/swaggo/http-swagger/v2"

	"github.com/seckill/seckill/internal/platform/auth"
	"github.com/seckill/seckill/internal/platform/db"
	"github.com/seckill/seckill/internal/platform/discovery"
	"github.com/seckill/seckill/internal/platform/httpx"
	"github.com/seckill/seckill/internal/platform/metrics"
	"github.com/seckill/seckill/internal/platform/tracing"
	"github.com/seckill/seckill/migrations"
)

// Deps is what the platform hands a service when it builds its handler.
type Deps struct {
	Pool *pgxpool.Pool
	// Transport is the round tripper for calls to peer services.
	Transport http.RoundTripper
	// Peer returns how to reach another service: through Consul when it is
	// configured, else at fallbackURL.
	Peer func(service, fallbackURL string) (httpx.Resolver, error)
	// Metrics is the service's registry; /metrics serves it.
	Metrics *metrics.Metrics
	// Tracer starts the spans of background work; requests get theirs
	// from the router's middleware.
	Tracer opentracing.Tracer
	// Log is the service's logger; every line names the service.
	Log *slog.Logger
	// Auth checks the credentials of requests; routes.go says which
	// routes need which.
	Auth *auth.Authenticator
}

// Service is a built service: its routes and the background workers that
// live as long as it does.
type Service struct {
	// Routes mounts the service's API on the common router.
	Routes func(r chi.Router)
	// Workers run until their context is cancelled, which happens only
	// after the HTTP server has stopped and finished its requests, so
	// in-flight requests can still rely on them. Each returns when it has
	// flushed what it can.
	Workers []func(ctx context.Context) error
	// Swagger is the swag instance name of the service's generated docs;
	// the UI is served at /swagger/index.html.
	Swagger string
}

// BuildFunc builds a service from its dependencies.
type BuildFunc func(ctx context.Context, d Deps) (*Service, error)

// Options are the optional parts of Run.
type Options struct {
	// Ready, when set, is called with the bound HTTP address once the
	// service accepts requests.
	Ready func(addr string)
	// OwnsProcess says the service is the whole process, so it may set
	// what is the process's: the garbage collector (see gcSettings). A
	// service started in a test's process leaves them alone.
	OwnsProcess bool
	// Now is the process's own clock (time.Now when nil). Tests give a
	// service a clock that is off, to show it decides as if it were not.
	Now func() time.Time
}

// Run starts a service and blocks until ctx is cancelled, then shuts it
// down in order: deregister from Consul (at most deregisterTimeout); drain
// for cfg.HTTP.Drain, still serving every request while /readyz answers 503
// so that a load balancer sends traffic elsewhere; stop accepting and finish
// in-flight requests (at most cfg.HTTP.ShutdownTimeout); stop the workers
// (at most cfg.HTTP.ShutdownTimeout again); close the database pool. So Run
// returns at most deregisterTimeout + Drain + 2 x ShutdownTimeout after ctx
// is cancelled, plus the closing of the pool and the tracer; whoever stops
// the process must allow that before it kills it.
func Run(ctx context.Context, cfg Config, set migrations.Set, stderr io.Writer, build BuildFunc, opt Options) error {
	// Every line names the service, so LogAttrs leaves the name out.
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel})).With("service", cfg.Name)
	attrs := cfg.LogAttrs()
	if opt.OwnsProcess {
		gcPercent, memLimit := gcSettings(cfg.Getenv)
		attrs = append(attrs, "gogc", gcPercent, "gomemlimit", memLimit)
	}
	logger.Info("starting", attrs...)

	tracer, closeTracer, err := tracing.New(cfg.Name, cfg.Getenv, logger)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	// Closed last, so the spans of the shutdown itself are flushed.
	defer closeTracer.Close()

	pool, err := db.Open(ctx, cfg.DatabaseURL, db.Options{MaxConns: int32(cfg.DBMaxConns), Tracer: tracing.QueryTracer(tracer)})
	if err != nil {
		return err
	}
	defer pool.Close()
	if cfg.Auth.Disabled {
		logger.Warn("AUTH_DISABLED=true: anyone may create, edit and delete products, activities and orders")
	}
	if cfg.Migrate {
		if err := migrateWithRetry(ctx, logger, pool, set, 30*time.Second); err != nil {
			return err
		}
	}

	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	peer := func(service, fallbackURL string) (httpx.Resolver, error) {
		r, closeFn, err := discovery.NewResolver(cfg.ConsulAddr, service, fallbackURL)
		if err != nil {
			return nil, err
		}
		closers = append(closers, closeFn)
		return r, nil
	}
	m := metrics.New(cfg.Name)
	transport := tracing.Transport(tracer, peerTransport())
	svc, err := build(ctx, Deps{Pool: pool, Transport: transport, Peer: peer, Metrics: m, Tracer: tracer, Log: logger,
		Auth: auth.New(cfg.Auth, nil)})
	if err != nil {
		return fmt.Errorf("build %s service: %w", cfg.Name, err)
	}
	var access *httpx.AccessLogger
	if cfg.AccessLog {
		access = httpx.NewAccessLogger(stderr, cfg.Name, 0)
		// Closed after the server has finished its requests, so the last
		// requests' lines are written.
		defer access.Close()
	}
	router := NewRouter(cfg, pool, m, tracer, access)
	svc.Routes(router)
	if svc.Swagger != "" {
		router.Get("/swagger/*", httpSwagger.Handler(httpSwagger.InstanceName(svc.Swagger), httpSwagger.URL("/swagger/doc.json")))
	}

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var wg sync.WaitGroup
	for _, w := range svc.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w(workCtx); err != nil && !errors.Is(err, context.Canceled) {
				logger.Error("worker stopped", "err", err)
			}
		}()
	}
	if cfg.DebugAddr != "" {
		go serveDebug(ctx, logger, cfg.DebugAddr)
	}

	// Consul must stop sending traffic here before the server stops
	// accepting it: deregistration comes first, then the drain (Serve's,
	// for cfg.HTTP.Drain, for the load balancers that check /readyz), then
	// Shutdown.
	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	var reg *discovery.Registrar
	if cfg.ConsulAddr != "" {
		if reg, err = discovery.NewRegistrar(cfg.ConsulAddr); err != nil {
			return err
		}
	}
	registered := make(chan error, 1)
	ready := func(addr string) {
		if reg != nil {
			host, port, err := discovery.AdvertiseAddr(addr, cfg.AdvertiseAddr)
			if err == nil {
				// An agent that accepts the connection and never answers
				// must not hold the start-up forever.
				rctx, cancel := context.WithTimeout(ctx, registerTimeout)
				err = reg.Register(rctx, discovery.Registration{Name: cfg.Name, Address: host, Port: port})
				cancel()
			}
			if err != nil {
				registered <- fmt.Errorf("register with Consul: %w", err)
				stopServing()
				return
			}
			logger.Info("registered with Consul", "addr", cfg.ConsulAddr, "host", host, "port", port)
		}
		if opt.Ready != nil {
			opt.Ready(addr)
		}
	}
	go func() {
		select {
		case <-ctx.Done():
		case <-serveCtx.Done():
		}
		if reg != nil {
			dctx, cancel := context.WithTimeout(context.Background(), deregisterTimeout)
			if err := reg.Deregister(dctx); err != nil {
				logger.Warn("deregister from Consul", "err", err)
			}
			cancel()
		}
		stopServing()
	}()
	serveErr := httpx.Serve(serveCtx, logger, cfg.HTTP, router, ready)
	select {
	case err := <-registered:
		serveErr = errors.Join(err, serveErr)
	default:
	}

	// The server has finished its requests: workers may now finish, within
	// the same bound.
	stopWork()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(cfg.HTTP.ShutdownTimeout):
		logger.Warn("workers did not stop in time")
	}
	logger.Info("stopped")
	return serveErr
}

// registerTimeout bounds the registration with Consul at start-up.
const registerTimeout = 10 * time.Second

// deregisterTimeout bounds the deregistration from Consul at shutdown, the
// first step of a stop.
const deregisterTimeout = 5 * time.Second

func migrateWithRetry(ctx context.Context, log *slog.Logger, pool *pgxpool.Pool, set migrations.Set, within time.Duration) error {
	deadline := time.Now().Add(within)
	wait := 200 * time.Millisecond
	for {
		err := db.Migrate(ctx, pool, set.Schema, set.FS, log)
		if err == nil || !db.Unavailable(err) || time.Now().After(deadline) {
			return err
		}
		log.Warn("database not reachable yet; retrying migration", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 3*time.Second)
	}
}

// peerTransport is the HTTP transport for calls between services: more idle
// connections per host than the default two, since the relay and the
// activity handlers call the same peers over and over.
func peerTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 32
	t.ResponseHeaderTimeout = 10 * time.Second
	// Shorter than a peer's own idle timeout (HTTP_IDLE_TIMEOUT, 30s by
	// default), so this side drops an idle connection before the peer
	// closes it under a request about to be sent.
	t.IdleConnTimeout = 20 * time.Second
	return t
}

func serveDebug(ctx context.Context, log *slog.Logger, addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	c := httpx.DefaultServerConfig(addr)
	c.WriteTimeout = 2 * time.Minute // CPU profiles take 30 s by default
	c.HandlerTimeout = 0
	if err := httpx.Serve(ctx, log, c, mux, nil); err != nil {
		log.Error("debug listener", "err", err)
	}
}
