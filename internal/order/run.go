// Package order is the order service: it records the orders that winners
// get, idempotently, so that delivering a win twice still makes one order.
//
//	@title						seckill order service
//	@version					1.0
//	@description				Orders of the flash-sale winners. The activity service delivers each win here; the order id it chose at win time makes every call idempotent.
//	@description				Every answer is an envelope: {"code":0,"message":"ok","data":…} on success, {"code":<status>,"message":…,"error":<kind>,"status_code":<status>} on failure, with that HTTP status.
//	@description				A path that matches no route answers 404 with the error envelope; a route asked with a method it does not have answers 405 with the error envelope and an Allow header listing the methods it has.
//	@BasePath					/
//
//	@securityDefinitions.apikey	Bearer
//	@in							header
//	@name						Authorization
//	@description				"Bearer <token>": ADMIN_TOKEN for administrators, SERVICE_TOKEN for services, and with USER_JWT_SECRET set a buyer's HS256 JWT whose sub is the user id.
package order

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/go-chi/chi/v5"

	_ "github.com/seckill/seckill/api/order" // registers the swagger docs
	"github.com/seckill/seckill/internal/platform/app"
	"github.com/seckill/seckill/internal/platform/config"
	"github.com/seckill/seckill/internal/platform/httpx"
	"github.com/seckill/seckill/migrations"
)

// Config is the order service's configuration.
type Config struct {
	app.Config
	// PaymentTimeout is how long a new order may stay unpaid.
	PaymentTimeout     time.Duration
	SweepInterval      time.Duration
	ActivityServiceURL string
	PeerTimeout        time.Duration
	RelayBatch         int
	RelayInterval      time.Duration
}

// LoadConfig reads the configuration from getenv.
func LoadConfig(getenv func(string) string) (Config, error) {
	env := config.New(getenv)
	c := Config{Config: app.LoadConfig(env, "order", ":8505")}
	c.PaymentTimeout = env.Duration("ORDER_PAYMENT_TIMEOUT", 15*time.Minute)
	c.SweepInterval = env.Duration("ORDER_SWEEP_INTERVAL", time.Second)
	c.ActivityServiceURL = env.URL("ACTIVITY_SERVICE_URL", "http://127.0.0.1:8504")
	c.PeerTimeout = env.Duration("PEER_TIMEOUT", 5*time.Second)
	c.RelayBatch = env.Int("RELAY_BATCH_SIZE", 500)
	c.RelayInterval = env.Duration("RELAY_INTERVAL", time.Second)
	if c.PaymentTimeout <= 0 || c.SweepInterval <= 0 || c.RelayBatch <= 0 || c.RelayInterval <= 0 {
		return c, errors.New("ORDER_PAYMENT_TIMEOUT, ORDER_SWEEP_INTERVAL, RELAY_BATCH_SIZE and RELAY_INTERVAL must be positive")
	}
	return c, env.Err()
}

// Run runs the order service until ctx is cancelled.
func Run(ctx context.Context, getenv func(string) string, stderr io.Writer, opt app.Options) error {
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return err
	}
	return app.Run(ctx, cfg.Config, migrations.Order, stderr, func(ctx context.Context, d app.Deps) (*app.Service, error) {
		activityPeer, err := d.Peer("activity", cfg.ActivityServiceURL)
		if err != nil {
			return nil, err
		}
		settled, err := d.Metrics.Counter("orders_settled_total",
			"Orders that reached a final status, by status: paid, cancelled (by the buyer), expired (unpaid at pay_by).", "status")
		if err != nil {
			return nil, err
		}
		// Every status's series exists from the start at 0, so a rate over
		// it is defined before the first order settles.
		for _, status := range []string{StatusPaid, StatusCancelled, StatusExpired} {
			settled.WithLabelValues(status)
		}
		var st *settler
		s := NewStore(d.Pool, StoreOptions{PayTimeout: cfg.PaymentTimeout, OnSettle: func(status string, n int) {
			settled.WithLabelValues(status).Add(float64(n))
			st.notify()
		}})
		activity := activityClient{httpx.NewClient("activity", activityPeer, d.Transport, cfg.PeerTimeout)}
		activity.c.Token = cfg.Auth.ServiceToken
		st = newSettler(s, activity, cfg.RelayBatch, cfg.RelayInterval, cfg.SweepInterval, d.Tracer, d.Log)
		err = d.Metrics.GaugeFunc("settlement_backlog", "Settled orders whose final status the activity service has not confirmed.", func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			n, err := s.Backlog(ctx)
			if err != nil {
				return -1 // the database did not answer; -1 cannot be mistaken for a level
			}
			return float64(n)
		})
		if err != nil {
			return nil, err
		}
		return &app.Service{
			Routes:  func(r chi.Router) { routes(r, s, d.Auth) },
			Swagger: "order",
			Workers: []func(context.Context) error{st.runSweeper, st.runRelay},
		}, nil
	}, opt)
}
