// Package activity is the activity service: sale activities and the seckill
// endpoint, with the relay that turns every committed win into an order.
//
//	@title						seckill activity service
//	@version					1.0
//	@description				Flash-sale activities and the purchase endpoint. The database decides every win; memory only answers the requests it can prove.
//	@description				Every answer is an envelope: {"code":0,"message":"ok","data":…} on success, {"code":<status>,"message":…,"error":<kind>,"status_code":<status>} on failure, with that HTTP status.
//	@description				A path that matches no route answers 404 with the error envelope; a route asked with a method it does not have answers 405 with the error envelope and an Allow header listing the methods it has.
//	@BasePath					/
//
//	@securityDefinitions.apikey	Bearer
//	@in							header
//	@name						Authorization
//	@description				"Bearer <token>": ADMIN_TOKEN for administrators, SERVICE_TOKEN for services, and with USER_JWT_SECRET set a buyer's HS256 JWT whose sub is the user id.
package activity

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"
	"github.com/opentracing/opentracing-go"

	_ "github.com/seckill/seckill/api/activity" // registers the swagger docs
	"github.com/seckill/seckill/internal/platform/app"
	"github.com/seckill/seckill/internal/platform/config"
	"github.com/seckill/seckill/internal/platform/db"
	"github.com/seckill/seckill/internal/platform/httpx"
	"github.com/seckill/seckill/internal/platform/ratelimit"
	"github.com/seckill/seckill/internal/platform/tracing"
	"github.com/seckill/seckill/internal/seckill"
	"github.com/seckill/seckill/migrations"
)

// Config is the activity service's configuration.
type Config struct {
	app.Config
	ProductServiceURL string
	OrderServiceURL   string
	PeerTimeout       time.Duration
	MaxBatch          int
	RelayBatch        int
	RelayInterval     time.Duration
	// AfterSaleInterval is how often ended activities are closed and
	// unsent totals retried.
	AfterSaleInterval time.Duration
	// ChangePollInterval is how often an instance looks for returned units
	// while it is not listening to the database's announcements of changes;
	// ChangeListenRetry is the first wait before it tries to listen again
	// (doubling up to 10 s).
	ChangePollInterval time.Duration
	ChangeListenRetry  time.Duration
	// Abuse limits on the seckill endpoint, in requests per second with a
	// burst; 0 turns a limit off (the default, so benchmarks measure the
	// service and not the limiter).
	UserRate, IPRate   float64
	UserBurst, IPBurst int
}

// LoadConfig reads the configuration from getenv.
func LoadConfig(getenv func(string) string) (Config, error) {
	env := config.New(getenv)
	c := Config{Config: app.LoadConfig(env, "activity", ":8504")}
	c.ProductServiceURL = env.URL("PRODUCT_SERVICE_URL", "http://127.0.0.1:8503")
	c.OrderServiceURL = env.URL("ORDER_SERVICE_URL", "http://127.0.0.1:8505")
	c.PeerTimeout = env.Duration("PEER_TIMEOUT", 5*time.Second)
	c.MaxBatch = env.Int("SECKILL_MAX_BATCH", 512)
	c.RelayBatch = env.Int("RELAY_BATCH_SIZE", 500)
	c.RelayInterval = env.Duration("RELAY_INTERVAL", time.Second)
	c.AfterSaleInterval = env.Duration("AFTER_SALE_INTERVAL", time.Second)
	c.ChangePollInterval = env.Duration("CHANGE_POLL_INTERVAL", 500*time.Millisecond)
	c.ChangeListenRetry = env.Duration("CHANGE_LISTEN_RETRY", 500*time.Millisecond)
	c.UserRate = env.Float("RATE_LIMIT_USER_RPS", 0)
	c.UserBurst = env.Int("RATE_LIMIT_USER_BURST", 5)
	c.IPRate = env.Float("RATE_LIMIT_IP_RPS", 0)
	c.IPBurst = env.Int("RATE_LIMIT_IP_BURST", 100)
	return c, env.Err()
}

// Run runs the activity service until ctx is cancelled.
func Run(ctx context.Context, getenv func(string) string, stderr io.Writer, opt app.Options) error {
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return err
	}
	return app.Run(ctx, cfg.Config, migrations.Activity, stderr, func(ctx context.Context, d app.Deps) (*app.Service, error) {
		store, sales, outbox := NewStore(d.Pool), NewSales(d.Pool), NewOutbox(d.Pool)
		// Every decision about a sale window is made with the database's
		// clock, the one commit_claims decides by: measured now, before the
		// first request, and kept fresh in the background.
		clock := db.NewClock(d.Pool, opt.Now)
		if err := clock.Measure(ctx); err != nil {
			return nil, fmt.Errorf("measure the database's clock: %w", err)
		}
		if err := clockMetrics(d.Metrics, clock); err != nil {
			return nil, err
		}
		productPeer, err := d.Peer("product", cfg.ProductServiceURL)
		if err != nil {
			return nil, err
		}
		orderPeer, err := d.Peer("order", cfg.OrderServiceURL)
		if err != nil {
			return nil, err
		}
		products := productClient{httpx.NewClient("product", productPeer, d.Transport, cfg.PeerTimeout)}
		products.c.Token = cfg.Auth.ServiceToken
		orders := orderClient{httpx.NewClient("order", orderPeer, d.Transport, cfg.PeerTimeout)}
		orders.c.Token = cfg.Auth.ServiceToken
		sm, err := newSaleMetrics(d.Metrics, store, outbox)
		if err != nil {
			return nil, err
		}
		lim := limits{ip: ratelimit.New[string](cfg.IPRate, cfg.IPBurst, nil), user: ratelimit.New[buyerKey](cfg.UserRate, cfg.UserBurst, nil)}
		rel := newRelay(outbox, orders, cfg.RelayBatch, cfg.RelayInterval, d.Tracer, d.Log)
		engine := seckill.New(sales, seckill.Options{
			MaxBatch: cfg.MaxBatch,
			Now:      clock.Now,
			Log:      d.Log,
			Trace:    commitTrace(d.Tracer),
			OnCommit: func(_ int64, claims, wins int) {
				sm.batch.Observe(float64(claims))
				if wins > 0 {
					rel.notify()
				}
			},
		})
		listenCfg := d.Pool.Config().ConnConfig.Copy()
		listenCfg.RuntimeParams["application_name"] = listenerName
		listenCfg.Tracer = nil // the wait for announcements is no query worth a span
		changes, err := newChanges(func(ctx context.Context) (*pgx.Conn, error) { return pgx.ConnectConfig(ctx, listenCfg) },
			engine.Forget, engine.ForgetAll, max(cfg.ChangeListenRetry, 10*time.Millisecond), d.Metrics, d.Log)
		if err != nil {
			return nil, err
		}
		settlements := NewSettlements(d.Pool)
		after := newAfterSale(settlements, products, engine.Forget, max(cfg.AfterSaleInterval, 10*time.Millisecond),
			max(cfg.ChangePollInterval, 10*time.Millisecond), changes.listening, changes.polled, d.Log)
		stm, err := newSettleMetrics(d.Metrics)
		if err != nil {
			return nil, err
		}
		settled := func(ap Applied) {
			stm.observe(ap)
			for _, id := range ap.Returned {
				engine.Forget(id) // this instance reopens at once; the others when the database announces it
			}
			after.changed()
		}
		return &app.Service{
			Routes: func(r chi.Router) {
				routes(r, store, NewCatalog(store, products, engine.Forget, clock.Now, d.Log), sales, products, engine, lim, sm.observe, d.Auth,
					settlements, settled)
			},
			Swagger: "activity",
			Workers: []func(context.Context) error{
				// The engine lives until the server has finished its
				// requests, then commits what is queued before it stops.
				func(ctx context.Context) error {
					<-ctx.Done()
					cctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
					defer cancel()
					return engine.Close(cctx)
				},
				rel.run,
				after.run,
				changes.run,
				func(ctx context.Context) error {
					return clock.Run(ctx, clockEvery, func(err error) { d.Log.Warn("database clock", "err", err) })
				},
			},
		}, nil
	}, opt)
}

// clockEvery is how often the offset to the database's clock is measured
// again: three trivial queries, so a clock stepped on either side (an NTP
// correction, a failover to a host whose clock differs) is followed within
// seconds. Measuring on each gate build instead would put round trips on the
// first buyer's path and still miss a step during a long sale.
const clockEvery = 2 * time.Second

// commitTrace returns the engine's Options.Trace: a "seckill.commit" span
// for each group commit that decides a sampled purchase, a child of the
// first such purchase's span (and following from the others), holding the
// commit's database spans. Without a tracer it returns nil and commits are
// not traced.
func commitTrace(tracer opentracing.Tracer) func(context.Context, int64, []context.Context) (context.Context, func()) {
	if _, noop := tracer.(opentracing.NoopTracer); noop || tracer == nil {
		return nil
	}
	return func(ctx context.Context, activityID int64, requests []context.Context) (context.Context, func()) {
		ctx, span := tracing.StartShared(ctx, tracer, "seckill.commit", requests)
		if span == nil {
			return ctx, func() {}
		}
		span.SetTag("activity_id", activityID)
		return ctx, span.Finish
	}
}
