package order

import "github.com/go-chi/chi/v5"

// routes is the whole API of the order service.
func routes(r chi.Router, s *Store) {
	r.Post("/orders", handleCreateOrder(s))
	r.Post("/orders/batch", handleCreateBatch(s))
	r.Get("/orders", handleListOrders(s))
	r.Get("/orders/{id}", handleGetOrder(s))
	r.Post("/orders/{id}/pay", handlePayOrder(s))
	r.Delete("/orders/{id}", handleDeleteOrder(s))
}
