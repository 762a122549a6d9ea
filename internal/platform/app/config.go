// Package app is the start-up and shutdown sequence every service shares:
// read the common configuration, open and migrate the database, serve HTTP
// with the common middleware and health routes, run background workers, and
// stop all of it in order.
package app

import (
	"fmt"
	"log/slog"

	"github.com/seckill/seckill/internal/platform/auth"
	"github.com/seckill/seckill/internal/platform/config"
	"github.com/seckill/seckill/internal/platform/httpx"
)

// Config is the part of every service's configuration that the platform
// consumes. Each service embeds it in its own Config.
type Config struct {
	Name        string // the service's name: product, activity or order
	HTTP        httpx.ServerConfig
	DatabaseURL string
	DBMaxConns  int
	Migrate     bool
	AccessLog   bool
	LogLevel    slog.Level
	CORS        httpx.CORSConfig
	DebugAddr   string // pprof listener; empty turns it off
	// ConsulAddr is the standard CONSUL_HTTP_ADDR; empty turns discovery
	// off, and peers are then reached at their static URLs.
	ConsulAddr string
	// AdvertiseAddr is the host other services reach this one at, when the
	// listen address does not say (":8503" or "0.0.0.0:8503").
	AdvertiseAddr string
	// Auth holds the credentials the service checks and sends to peers.
	Auth auth.Config
	// Getenv is the environment the configuration was read from; the
	// tracer reads its standard JAEGER_* variables through it.
	Getenv func(string) string
}

// LoadConfig reads the common variables. defaultAddr is the service's
// default HTTP_ADDR.
func LoadConfig(env *config.Env, name, defaultAddr string) Config {
	c := Config{Name: name}
	c.HTTP = httpx.DefaultServerConfig(env.String("HTTP_ADDR", defaultAddr))
	c.HTTP.ReadHeaderTimeout = env.Duration("HTTP_READ_HEADER_TIMEOUT", c.HTTP.ReadHeaderTimeout)
	c.HTTP.ReadTimeout = env.Duration("HTTP_READ_TIMEOUT", c.HTTP.ReadTimeout)
	c.HTTP.WriteTimeout = env.Duration("HTTP_WRITE_TIMEOUT", c.HTTP.WriteTimeout)
	c.HTTP.IdleTimeout = env.Duration("HTTP_IDLE_TIMEOUT", c.HTTP.IdleTimeout)
	c.HTTP.ShutdownTimeout = env.Duration("SHUTDOWN_TIMEOUT", c.HTTP.ShutdownTimeout)
	// 0 by default: a lone instance has nobody to hand its traffic to, and
	// make run's Ctrl-C and the tests stop at once. Behind a load balancer
	// it must outlast the balancer's time to mark the instance down.
	c.HTTP.Drain = env.Duration("SHUTDOWN_DRAIN", 0)
	c.HTTP.MaxHeaderBytes = env.Int("HTTP_MAX_HEADER_BYTES", c.HTTP.MaxHeaderBytes)
	c.HTTP.HandlerTimeout = env.Duration("HTTP_HANDLER_TIMEOUT", c.HTTP.HandlerTimeout)
	c.DatabaseURL = env.URL("DATABASE_URL", config.DefaultDatabaseURL)
	c.DBMaxConns = env.Int("DB_MAX_CONNS", 0)
	c.Migrate = env.Bool("MIGRATE_ON_START", true)
	c.AccessLog = env.Bool("ACCESS_LOG", true)
	c.DebugAddr = env.String("DEBUG_ADDR", "")
	c.ConsulAddr = env.String("CONSUL_HTTP_ADDR", "")
	c.AdvertiseAddr = env.String("SERVICE_ADVERTISE_ADDR", "")
	c.Getenv = env.Getenv
	c.Auth = auth.LoadConfig(env)
	c.HTTP.MaxConns = env.Int("HTTP_MAX_CONNS", c.HTTP.MaxConns)
	c.HTTP.BodyGrace = env.Duration("HTTP_BODY_GRACE", c.HTTP.BodyGrace)
	if g, rt := c.HTTP.BodyGrace, c.HTTP.ReadTimeout; g > 0 && rt > 0 && g >= rt {
		// HTTP_READ_TIMEOUT would always cut the trickler first: a grace
		// that never acts is a mistake, not a choice.
		env.Problem(fmt.Errorf("HTTP_BODY_GRACE=%s must be below HTTP_READ_TIMEOUT=%s, or 0 to turn it off", g, rt))
	}
	switch env.OneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error") {
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "warn":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		c.LogLevel = slog.LevelInfo
	}
	c.CORS = httpx.CORSConfig{
		AllowOrigin:  env.String("ACCESS_CONTROL_ALLOW_ORIGIN", "*"),
		AllowMethods: env.String("ACCESS_CONTROL_ALLOW_METHODS", "GET, POST, PUT, DELETE, OPTIONS"),
		AllowHeaders: env.String("ACCESS_CONTROL_ALLOW_HEADERS", "Content-Type, Authorization, X-Request-Id"),
		MaxAge:       env.Int("ACCESS_CONTROL_MAX_AGE", 600),
	}
	return c
}

// LogAttrs returns the configuration as log attributes, secrets masked.
func (c Config) LogAttrs() []any {
	return []any{"http_addr", c.HTTP.Addr, "database_url", config.Redact(c.DatabaseURL),
		"db_max_conns", c.DBMaxConns, "migrate_on_start", c.Migrate, "access_log", c.AccessLog,
		"log_level", c.LogLevel.String(), "cors_origin", c.CORS.AllowOrigin, "debug_addr", c.DebugAddr,
		"consul_http_addr", c.ConsulAddr, "service_advertise_addr", c.AdvertiseAddr, "auth", c.Auth.String(),
		"http_max_conns", c.HTTP.MaxConns, "http_body_grace", c.HTTP.BodyGrace.String(), "shutdown_drain", c.HTTP.Drain.String(), "shutdown_timeout", c.HTTP.ShutdownTimeout.String()}
}
