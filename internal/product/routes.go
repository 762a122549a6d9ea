package product

import (
	"github.com/go-chi/chi/v5"

	"github.com/seckill/seckill/internal/platform/auth"
)

// routes is the whole API of the product service, with who may call each
// route: the catalogue is public, administrators change it, and only
// services (the activity service) move reservations and settle them.
func routes(r chi.Router, s *Store, a *auth.Authenticator) {
	admin, service := a.Require(auth.Admin), a.Require(auth.Service)
	r.Get("/products", handleListProducts(s))
	r.Get("/products/{id}", handleGetProduct(s))
	r.With(admin).Post("/products", handleCreateProduct(s))
	r.With(admin).Put("/products/{id}", handleUpdateProduct(s))
	r.With(admin).Delete("/products/{id}", handleDeleteProduct(s))
	r.With(service).Post("/products/{id}/reservations", handleReserve(s))
	r.With(service).Delete("/products/{id}/reservations/{activity_id}", handleRelease(s))
	r.With(service).Put("/products/{id}/reservations/{activity_id}/settlement", handleSettle(s))
}
