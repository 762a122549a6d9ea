package product

import "github.com/go-chi/chi/v5"

// routes is the whole API of the product service.
func routes(r chi.Router, s *Store) {
	r.Post("/products", handleCreateProduct(s))
	r.Get("/products", handleListProducts(s))
	r.Get("/products/{id}", handleGetProduct(s))
	r.Put("/products/{id}", handleUpdateProduct(s))
	r.Delete("/products/{id}", handleDeleteProduct(s))
	r.Post("/products/{id}/reservations", handleReserve(s))
	r.Delete("/products/{id}/reservations/{activity_id}", handleRelease(s))
}
