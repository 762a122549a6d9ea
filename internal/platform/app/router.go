package app

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/opentracing/opentracing-go"

	"github.com/seckill/seckill/internal/platform/db"
	"github.com/seckill/seckill/internal/platform/httpx"
	"github.com/seckill/seckill/internal/platform/metrics"
	"github.com/seckill/seckill/internal/platform/tracing"
)

// NewRouter returns a chi router with the common middleware and the
// /healthz, /readyz and /metrics routes. access may be nil: no access log.
func NewRouter(cfg Config, pool *pgxpool.Pool, m *metrics.Metrics, tracer opentracing.Tracer, access *httpx.AccessLogger) chi.Router {
	r := chi.NewRouter()
	// Health checks, scrapes and the Swagger UI's assets are not traced:
	// they would bury the requests worth reading.
	untraced := []string{"/healthz", "/readyz", "/metrics", "/swagger/"}
	r.Use(httpx.Recover, httpx.RequestID, m.Middleware, tracing.Middleware(tracer, untraced...), httpx.CORS(cfg.CORS))
	if access != nil {
		r.Use(access.Middleware)
	}
	r.NotFound(httpx.NotFound)
	r.MethodNotAllowed(httpx.MethodNotAllowed)
	r.Get("/healthz", handleHealthz)
	r.Get("/readyz", handleReadyz(pool))
	r.Method(http.MethodGet, "/metrics", handleMetrics(m))
	return r
}

// handleHealthz handles GET /healthz: the process is alive.
//
//	@Summary		Liveness
//	@Description	Answers while the process runs; Consul's health check calls it.
//	@ID				healthz
//	@Tags			health
//	@Produce		json
//	@Success		200	{object}	httpx.Envelope{data=Health}
//	@Router			/healthz [get]
func handleHealthz(w http.ResponseWriter, r *http.Request) {
	httpx.OK(w, Health{Status: "ok"})
}

// Health is what /healthz and /readyz answer when all is well.
type Health struct {
	Status string `json:"status" validate:"required" enums:"ok,ready" example:"ok"`
}

// handleMetrics handles GET /metrics.
//
//	@Summary		Prometheus metrics
//	@Description	Requests by route and status, latency histograms, and the service's own metrics, in Prometheus' text format.
//	@ID				metrics
//	@Tags			health
//	@Produce		plain
//	@Success		200	"the metrics in Prometheus text format"
//	@Router			/metrics [get]
func handleMetrics(m *metrics.Metrics) http.Handler { return m.Handler() }

// handleReadyz handles GET /readyz: the instance should get traffic, because
// it is not shutting down and the database answers.
//
//	@Summary		Readiness
//	@Description	Answers 200 when the database answers, 503 with the error envelope when it does not or when the instance is shutting down (the drain of SHUTDOWN_DRAIN, during which every other route is still served).
//	@ID				readyz
//	@Tags			health
//	@Produce		json
//	@Success		200	{object}	httpx.Envelope{data=Health}
//	@Failure		503	{object}	httpx.UnavailableError	"database unavailable, or shutting down"
//	@Router			/readyz [get]
func handleReadyz(pool *pgxpool.Pool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// A load balancer takes the instance out of rotation when this
		// fails, while the drain still serves what it sends meanwhile.
		if httpx.Draining(r.Context()) {
			httpx.ShuttingDown(w)
			return
		}
		if err := db.Ping(r.Context(), pool); err != nil {
			httpx.Error(w, r, err)
			return
		}
		httpx.OK(w, Health{Status: "ready"})
	}
}
