package activity

import (
	"github.com/go-chi/chi/v5"

	"github.com/seckill/seckill/internal/platform/auth"
	"github.com/seckill/seckill/internal/seckill"
)

// routes is the whole API of the activity service, with who may call each
// route: the catalogue and the sale's progress are public, administrators
// change activities, buyers buy and read their own outcome, and only
// services (the order service) report settlements.
func routes(r chi.Router, s *Store, cat *Catalog, sales *Sales, products productClient, engine *seckill.Engine, lim limits,
	observe func(seckill.Status), a *auth.Authenticator, settlements *Settlements, settled func(Applied)) {
	admin := a.Require(auth.Admin)
	r.Get("/activities", handleListActivities(s))
	r.Get("/activities/{id}", handleGetActivity(s, products))
	r.Get("/activities/{id}/stats", handleStats(s))
	r.With(admin).Post("/activities", handleCreateActivity(cat))
	r.With(admin).Put("/activities/{id}", handleUpdateActivity(cat))
	r.With(admin).Delete("/activities/{id}", handleDeleteActivity(cat))
	r.With(a.Require(auth.Buyer)).Post("/activities/{id}/seckill", handleSeckill(engine, lim, observe, a))
	r.With(a.Require(auth.Buyer, auth.Admin)).Get("/activities/{id}/seckill/{user_id}", handleOutcome(sales, a))
	r.With(a.Require(auth.Service)).Post("/activities/settlements", handleSettle(settlements, settled))
}
