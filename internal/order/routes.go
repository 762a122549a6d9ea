package order

import (
	"github.com/go-chi/chi/v5"

	"github.com/seckill/seckill/internal/platform/auth"
)

// routes is the whole API of the order service, with who may call each
// route: only services (the activity service's relay) create orders;
// buyers read, pay and cancel their own; administrators read everyone's.
// No route removes an order: every order carries a win, and its end is
// paid, cancelled or expired.
func routes(r chi.Router, s *Store, a *auth.Authenticator) {
	service := a.Require(auth.Service)
	buyerOrAdmin, buyer := a.Require(auth.Buyer, auth.Admin), a.Require(auth.Buyer)
	r.With(service).Post("/orders", handleCreateOrder(s))
	r.With(service).Post("/orders/batch", handleCreateBatch(s))
	r.With(buyerOrAdmin).Get("/orders", handleListOrders(s, a))
	r.With(buyerOrAdmin).Get("/orders/{id}", handleGetOrder(s, a))
	r.With(buyer).Post("/orders/{id}/pay", handlePayOrder(s, a))
	r.With(buyer).Post("/orders/{id}/cancel", handleCancelOrder(s, a))
}
