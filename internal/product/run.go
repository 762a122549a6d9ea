// Package product is the product service: products and their inventory,
// including the reservations that sale activities hold.
//
//	@title						seckill product service
//	@version					1.0
//	@description				Products and their inventory. Activities reserve inventory here before a sale.
//	@description				Every answer is an envelope: {"code":0,"message":"ok","data":…} on success, {"code":<status>,"message":…,"error":<kind>,"status_code":<status>} on failure, with that HTTP status.
//	@description				A path that matches no route answers 404 with the error envelope; a route asked with a method it does not have answers 405 with the error envelope and an Allow header listing the methods it has.
//	@BasePath					/
//
//	@securityDefinitions.apikey	Bearer
//	@in							header
//	@name						Authorization
//	@description				"Bearer <token>": ADMIN_TOKEN for administrators, SERVICE_TOKEN for services, and with USER_JWT_SECRET set a buyer's HS256 JWT whose sub is the user id.
package product

import (
	"context"
	"io"

	"github.com/go-chi/chi/v5"

	_ "github.com/seckill/seckill/api/product" // registers the swagger docs

	"github.com/seckill/seckill/internal/platform/app"
	"github.com/seckill/seckill/internal/platform/config"
	"github.com/seckill/seckill/migrations"
)

// Config is the product service's configuration.
type Config struct {
	app.Config
}

// LoadConfig reads the configuration from getenv.
func LoadConfig(getenv func(string) string) (Config, error) {
	env := config.New(getenv)
	c := Config{Config: app.LoadConfig(env, "product", ":8503")}
	return c, env.Err()
}

// Run runs the product service until ctx is cancelled.
func Run(ctx context.Context, getenv func(string) string, stderr io.Writer, opt app.Options) error {
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return err
	}
	return app.Run(ctx, cfg.Config, migrations.Product, stderr, func(ctx context.Context, d app.Deps) (*app.Service, error) {
		s := NewStore(d.Pool)
		return &app.Service{Routes: func(r chi.Router) { routes(r, s, d.Auth) }, Swagger: "product"}, nil
	}, opt)
}
