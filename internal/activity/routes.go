package activity

import (
	"github.com/go-chi/chi/v5"

	"github.com/seckill/seckill/internal/seckill"
)

// routes is the whole API of the activity service.
func routes(r chi.Router, s *Store, cat *Catalog, sales *Sales, products productClient, engine *seckill.Engine, lim limits, observe func(seckill.Status)) {
	r.Post("/activities", handleCreateActivity(cat))
	r.Get("/activities", handleListActivities(s))
	r.Get("/activities/{id}", handleGetActivity(s, products))
	r.Put("/activities/{id}", handleUpdateActivity(cat))
	r.Delete("/activities/{id}", handleDeleteActivity(cat))
	r.Post("/activities/{id}/seckill", handleSeckill(engine, lim, observe))
	r.Get("/activities/{id}/seckill/{user_id}", handleOutcome(sales))
	r.Get("/activities/{id}/stats", handleStats(s))
}
