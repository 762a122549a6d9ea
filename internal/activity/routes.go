package activity

import (
	"github.com/go-chi/chi/v5"

	"github.com/seckill/seckill/internal/seckill"
)

// routes is the whole API of the activity service.
func routes(r chi.Router, s *Store, products productClient, engine *seckill.Engine, lim limits, observe func(seckill.Status)) {
	r.Post("/activities", handleCreateActivity(s, products))
	r.Get("/activities", handleListActivities(s))
	r.Get("/activities/{id}", handleGetActivity(s, products))
	r.Put("/activities/{id}", handleUpdateActivity(s, products, engine))
	r.Delete("/activities/{id}", handleDeleteActivity(s, products, engine))
	r.Post("/activities/{id}/seckill", handleSeckill(engine, lim, observe))
	r.Get("/activities/{id}/seckill/{user_id}", handleOutcome(s))
	r.Get("/activities/{id}/stats", handleStats(s))
}
