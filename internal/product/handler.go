package product

import (
	"net/http"

	"github.com/seckill/seckill/internal/platform/httpx"
)

// handleCreateProduct handles POST /products.
//
//	@Summary	Create a product
//	@Tags		products
//	@Accept		json
//	@Produce	json
//	@Param		product	body		CreateRequest	true	"the new product"
//	@Success	201		{object}	httpx.Envelope{data=Product}
//	@Failure	400		{object}	httpx.ErrorEnvelope	"invalid input"
//	@Failure	409		{object}	httpx.ErrorEnvelope	"a product with that name exists"
//	@Failure	413		{object}	httpx.ErrorEnvelope	"body too large"
//	@Security	Bearer
//	@Failure	401	{object}	httpx.ErrorEnvelope	"no valid credential: send the admin token; the answer carries WWW-Authenticate: Bearer"
//	@Header		401	{string}	WWW-Authenticate	"Bearer realm=seckill"
//	@Failure	403	{object}	httpx.ErrorEnvelope	"a valid credential that is not the admin token"
//	@Failure	415	{object}	httpx.ErrorEnvelope	"a body declared as anything but application/json"
//	@Router		/products [post]
func handleCreateProduct(s *Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		in, err := httpx.Decode[CreateRequest](w, r)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		p, err := s.Create(r.Context(), in)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		httpx.Write(w, http.StatusCreated, p)
	}
}

// handleListProducts handles GET /products.
//
//	@Summary	List products
//	@Tags		products
//	@Produce	json
//	@Param		limit	query		int	false	"page size (1-100)"	default(20)
//	@Param		offset	query		int	false	"rows to skip"		default(0)
//	@Success	200		{object}	httpx.Envelope{data=[]Product}
//	@Failure	400		{object}	httpx.ErrorEnvelope
//	@Router		/products [get]
func handleListProducts(s *Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		limit, offset, err := httpx.Page(r)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		ps, total, err := s.List(r.Context(), limit, offset)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		httpx.List(w, ps, httpx.Pagination{Limit: limit, Offset: offset, Total: total})
	}
}

// handleGetProduct handles GET /products/{id}.
//
//	@Summary	Get a product
//	@Tags		products
//	@Produce	json
//	@Param		id	path		int	true	"product id"
//	@Success	200	{object}	httpx.Envelope{data=Product}
//	@Failure	400	{object}	httpx.ErrorEnvelope
//	@Failure	404	{object}	httpx.ErrorEnvelope
//	@Router		/products/{id} [get]
func handleGetProduct(s *Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := httpx.PathID(r, "id")
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		p, err := s.Get(r.Context(), id)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		httpx.OK(w, p)
	}
}

// handleUpdateProduct handles PUT /products/{id}.
//
//	@Summary		Update a product
//	@Description	Changes the fields present in the body; absent fields keep their values.
//	@Tags			products
//	@Accept			json
//	@Produce		json
//	@Param			id		path		int				true	"product id"
//	@Param			product	body		UpdateRequest	true	"fields to change"
//	@Success		200		{object}	httpx.Envelope{data=Product}
//	@Failure		400		{object}	httpx.ErrorEnvelope
//	@Failure		404		{object}	httpx.ErrorEnvelope
//	@Failure		409		{object}	httpx.ErrorEnvelope	"the new name is taken"
//	@Security		Bearer
//	@Failure		401	{object}	httpx.ErrorEnvelope	"no valid credential: send the admin token; the answer carries WWW-Authenticate: Bearer"
//	@Header			401	{string}	WWW-Authenticate	"Bearer realm=seckill"
//	@Failure		403	{object}	httpx.ErrorEnvelope	"a valid credential that is not the admin token"
//	@Failure		415	{object}	httpx.ErrorEnvelope	"a body declared as anything but application/json"
//	@Router			/products/{id} [put]
func handleUpdateProduct(s *Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := httpx.PathID(r, "id")
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		in, err := httpx.Decode[UpdateRequest](w, r)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		p, err := s.Update(r.Context(), id, in)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		httpx.OK(w, p)
	}
}

// handleDeleteProduct handles DELETE /products/{id}.
//
//	@Summary	Delete a product
//	@Tags		products
//	@Produce	json
//	@Param		id	path		int	true	"product id"
//	@Success	200	{object}	httpx.Envelope{data=object}
//	@Failure	400	{object}	httpx.ErrorEnvelope
//	@Failure	404	{object}	httpx.ErrorEnvelope
//	@Failure	409	{object}	httpx.ErrorEnvelope	"activities hold units of the product"
//	@Security	Bearer
//	@Failure	401	{object}	httpx.ErrorEnvelope	"no valid credential: send the admin token; the answer carries WWW-Authenticate: Bearer"
//	@Header		401	{string}	WWW-Authenticate	"Bearer realm=seckill"
//	@Failure	403	{object}	httpx.ErrorEnvelope	"a valid credential that is not the admin token"
//	@Router		/products/{id} [delete]
func handleDeleteProduct(s *Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := httpx.PathID(r, "id")
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		if err := s.Delete(r.Context(), id); err != nil {
			httpx.Error(w, r, err)
			return
		}
		httpx.OK(w, map[string]int64{"id": id})
	}
}

// handleReserve handles POST /products/{id}/reservations.
//
//	@Summary		Reserve inventory for an activity
//	@Description	Moves quantity units from inventory to reserved. Repeating the call for the same activity is idempotent; another quantity moves only the difference.
//	@Tags			reservations
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int									true	"product id"
//	@Param			reservation	body		ReserveRequest						true	"activity and quantity"
//	@Success		201			{object}	httpx.Envelope{data=Reservation}	"reserved"
//	@Success		200			{object}	httpx.Envelope{data=Reservation}	"already reserved"
//	@Failure		400			{object}	httpx.ErrorEnvelope
//	@Failure		404			{object}	httpx.ErrorEnvelope
//	@Failure		409			{object}	httpx.ErrorEnvelope	"not enough inventory"
//	@Security		Bearer
//	@Failure		401	{object}	httpx.ErrorEnvelope	"no valid credential: send the service token; the answer carries WWW-Authenticate: Bearer"
//	@Header			401	{string}	WWW-Authenticate	"Bearer realm=seckill"
//	@Failure		403	{object}	httpx.ErrorEnvelope	"a valid credential that is not the service token (an administrator cannot do this either)"
//	@Failure		415	{object}	httpx.ErrorEnvelope	"a body declared as anything but application/json"
//	@Router			/products/{id}/reservations [post]
func handleReserve(s *Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := httpx.PathID(r, "id")
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		in, err := httpx.Decode[ReserveRequest](w, r)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		res, created, err := s.Reserve(r.Context(), id, in)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		httpx.Write(w, status, res)
	}
}

// handleRelease handles DELETE /products/{id}/reservations/{activity_id}.
//
//	@Summary		Release an activity's reservation
//	@Description	The units the activity still holds (neither sold nor released) go back to inventory.
//	@Tags			reservations
//	@Produce		json
//	@Param			id			path		int									true	"product id"
//	@Param			activity_id	path		int									true	"activity id"
//	@Success		200			{object}	httpx.Envelope{data=Reservation}	"the released reservation"
//	@Failure		400			{object}	httpx.ErrorEnvelope
//	@Failure		404			{object}	httpx.ErrorEnvelope
//	@Security		Bearer
//	@Failure		401	{object}	httpx.ErrorEnvelope	"no valid credential: send the service token; the answer carries WWW-Authenticate: Bearer"
//	@Header			401	{string}	WWW-Authenticate	"Bearer realm=seckill"
//	@Failure		403	{object}	httpx.ErrorEnvelope	"a valid credential that is not the service token (an administrator cannot do this either)"
//	@Router			/products/{id}/reservations/{activity_id} [delete]
func handleRelease(s *Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := httpx.PathID(r, "id")
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		activityID, err := httpx.PathID(r, "activity_id")
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		res, err := s.Release(r.Context(), id, activityID)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		httpx.OK(w, res)
	}
}

// handleSettle handles PUT /products/{id}/reservations/{activity_id}/settlement.
//
//	@Summary		Settle units of an activity's reservation
//	@Description	The activity reports running totals: sold (units of its paid orders) and released (units it gave back). The difference from the recorded totals moves from reserved to sold and to inventory, in one transaction. Totals only grow: a repeated or stale report changes nothing, so the call is idempotent.
//	@Tags			reservations
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int									true	"product id"
//	@Param			activity_id	path		int									true	"activity id"
//	@Param			settlement	body		SettleRequest						true	"running totals"
//	@Success		200			{object}	httpx.Envelope{data=Reservation}	"the reservation after the settlement"
//	@Failure		400			{object}	httpx.ErrorEnvelope
//	@Failure		404			{object}	httpx.ErrorEnvelope	"no such product or reservation"
//	@Failure		409			{object}	httpx.ErrorEnvelope	"more units settled than reserved"
//	@Security		Bearer
//	@Failure		401	{object}	httpx.ErrorEnvelope	"no valid credential: send the service token; the answer carries WWW-Authenticate: Bearer"
//	@Header			401	{string}	WWW-Authenticate	"Bearer realm=seckill"
//	@Failure		403	{object}	httpx.ErrorEnvelope	"a valid credential that is not the service token (an administrator cannot do this either)"
//	@Failure		415	{object}	httpx.ErrorEnvelope	"a body declared as anything but application/json"
//	@Router			/products/{id}/reservations/{activity_id}/settlement [put]
func handleSettle(s *Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := httpx.PathID(r, "id")
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		activityID, err := httpx.PathID(r, "activity_id")
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		in, err := httpx.Decode[SettleRequest](w, r)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		res, err := s.Settle(r.Context(), id, activityID, in)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		httpx.OK(w, res)
	}
}
