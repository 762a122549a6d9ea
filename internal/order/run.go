// Package order is the order service: it records the orders that winners
// get, idempotently, so that delivering a win twice still makes one order.
//
//	@title						seckill order service
//	@version					1.0
//	@description				Orders of the flash-sale winners. The activity service delivers each win here; the order id it chose at win time makes every call idempotent.
//	@BasePath					/
//
//	@securityDefinitions.apikey	Bearer
//	@in							header
//	@name						Authorization
//	@description				"Bearer <token>": ADMIN_TOKEN for administrators, SERVICE_TOKEN for services, and with USER_JWT_SECRET set a buyer's HS256 JWT whose sub is the user id.
package order

import (
	"context"
	"io"

	"github.com/go-chi/chi/v5"

	_ "github.com/seckill/seckill/api/order" // registers the swagger docs
	"github.com/seckill/seckill/internal/platform/app"
	"github.com/seckill/seckill/internal/platform/config"
	"github.com/seckill/seckill/migrations"
)

// Config is the order service's configuration.
type Config struct {
	app.Config
}

// LoadConfig reads the configuration from getenv.
func LoadConfig(getenv func(string) string) (Config, error) {
	env := config.New(getenv)
	c := Config{Config: app.LoadConfig(env, "order", ":8505")}
	return c, env.Err()
}

// Run runs the order service until ctx is cancelled.
func Run(ctx context.Context, getenv func(string) string, stderr io.Writer, opt app.Options) error {
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return err
	}
	return app.Run(ctx, cfg.Config, migrations.Order, stderr, func(ctx context.Context, d app.Deps) (*app.Service, error) {
		s := NewStore(d.Pool)
		return &app.Service{Routes: func(r chi.Router) { routes(r, s, d.Auth) }, Swagger: "order"}, nil
	}, opt)
}
