package product

import (
	"net/http"

	"github.com/seckill/seckill/internal/platform/httpx"
)

// handleCreateProduct handles POST /products.
//
//	@Summary	Create a product
//	@ID			createProduct
//	@Tags		products
//	@Accept		json
//	@Produce	json
//	@Param		product	body		CreateRequest					true	"the new product"
//	@Success	201		{object}	httpx.Envelope{data=Product}	"created"
//	@Failure	400		{object}	httpx.BadRequestError			"invalid input: fields names each bad field"
//	@Failure	409		{object}	httpx.ConflictError				"a product with that name exists"
//	@Failure	413		{object}	httpx.TooLargeError				"body over 1 MiB"
//	@Failure	500		{object}	httpx.InternalError
//	@Failure	503		{object}	httpx.UnavailableError	"database unavailable"
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
//	@ID			listProducts
//	@Tags		products
//	@Produce	json
//	@Param		limit	query		int	false	"page size"		minimum(1)	maximum(100)	default(20)
//	@Param		offset	query		int	false	"rows to skip"	minimum(0)	default(0)
//	@Success	200		{object}	httpx.ListEnvelope{data=[]Product}
//	@Failure	400		{object}	httpx.BadRequestError
//	@Failure	500		{object}	httpx.InternalError
//	@Failure	503		{object}	httpx.UnavailableError	"database unavailable"
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
//	@ID			getProduct
//	@Tags		products
//	@Produce	json
//	@Param		id	path		int	true	"product id"	minimum(1)	format(int64)	example(1)
//	@Success	200	{object}	httpx.Envelope{data=Product}
//	@Failure	400	{object}	httpx.BadRequestError
//	@Failure	404	{object}	httpx.NotFoundError
//	@Failure	500	{object}	httpx.InternalError
//	@Failure	503	{object}	httpx.UnavailableError	"database unavailable"
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
//	@ID				updateProduct
//	@Tags			products
//	@Accept			json
//	@Produce		json
//	@Param			id		path		int				true	"product id"	minimum(1)	format(int64)	example(1)
//	@Param			product	body		UpdateRequest	true	"fields to change"
//	@Success		200		{object}	httpx.Envelope{data=Product}
//	@Failure		400		{object}	httpx.BadRequestError
//	@Failure		404		{object}	httpx.NotFoundError
//	@Failure		409		{object}	httpx.ConflictError	"the new name is taken, or the inventory would fall below what is reserved"
//	@Failure		413		{object}	httpx.TooLargeError	"body over 1 MiB"
//	@Failure		500		{object}	httpx.InternalError
//	@Failure		503		{object}	httpx.UnavailableError	"database unavailable"
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
//	@ID			deleteProduct
//	@Tags		products
//	@Produce	json
//	@Param		id	path		int	true	"product id"	minimum(1)	format(int64)	example(1)
//	@Success	200	{object}	httpx.Envelope{data=Deleted}
//	@Failure	400	{object}	httpx.BadRequestError
//	@Failure	404	{object}	httpx.NotFoundError
//	@Failure	409	{object}	httpx.ConflictError	"the product has reservations"
//	@Failure	500	{object}	httpx.InternalError
//	@Failure	503	{object}	httpx.UnavailableError	"database unavailable"
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
		httpx.OK(w, Deleted{ID: id})
	}
}

// handleReserve handles POST /products/{id}/reservations.
//
//	@Summary		Reserve inventory for an activity
//	@Description	Moves quantity units from inventory to reserved. Repeating the call for the same activity is idempotent; another quantity moves only the difference.
//	@ID				reserveInventory
//	@Tags			reservations
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int									true	"product id"	minimum(1)	format(int64)	example(1)
//	@Param			reservation	body		ReserveRequest						true	"activity and quantity"
//	@Success		201			{object}	httpx.Envelope{data=Reservation}	"reserved"
//	@Success		200			{object}	httpx.Envelope{data=Reservation}	"already reserved"
//	@Failure		400			{object}	httpx.BadRequestError
//	@Failure		404			{object}	httpx.NotFoundError
//	@Failure		409			{object}	httpx.ConflictError	"not enough inventory"
//	@Failure		413			{object}	httpx.TooLargeError	"body over 1 MiB"
//	@Failure		500			{object}	httpx.InternalError
//	@Failure		503			{object}	httpx.UnavailableError	"database unavailable"
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
//	@ID				releaseReservation
//	@Tags			reservations
//	@Produce		json
//	@Param			id			path		int									true	"product id"	minimum(1)	format(int64)	example(1)
//	@Param			activity_id	path		int									true	"activity id"	minimum(1)	format(int64)	example(7)
//	@Success		200			{object}	httpx.Envelope{data=Reservation}	"the released reservation"
//	@Failure		400			{object}	httpx.BadRequestError
//	@Failure		404			{object}	httpx.NotFoundError
//	@Failure		500			{object}	httpx.InternalError
//	@Failure		503			{object}	httpx.UnavailableError	"database unavailable"
//	@Security		Bearer
//	@Failure		401	{object}	httpx.ErrorEnvelope	"no valid credential: send the service token; the answer carries WWW-Authenticate: Bearer"
//	@Header			401	{string}	WWW-Authenticate	"Bearer realm=seckill"
//	@Failure		403	{object}	httpx.ErrorEnvelope	"a valid credential that is not the service token (an administrator cannot do this either)"
//	@Router			/products/{id}/reservations/{activity_id} [delete]
//	@Description	The units the activity still holds (neither sold nor released) go back to inventory.
func handleRelease(s *Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, activityID, err := reservationIDs(r)
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
//	@ID				settleReservation
//	@Description	The activity reports running totals: sold (units of its paid orders) and released (units it gave back). The difference from the recorded totals moves from reserved to sold and to inventory, in one transaction. Totals only grow: a repeated or stale report changes nothing, so the call is idempotent.
//	@Tags			reservations
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int									true	"product id"	minimum(1)	format(int64)	example(1)
//	@Param			activity_id	path		int									true	"activity id"	minimum(1)	format(int64)	example(7)
//	@Param			settlement	body		SettleRequest						true	"running totals"
//	@Success		200			{object}	httpx.Envelope{data=Reservation}	"the reservation after the settlement"
//	@Failure		400			{object}	httpx.BadRequestError
//	@Failure		404			{object}	httpx.NotFoundError	"no such product or reservation"
//	@Failure		409			{object}	httpx.ConflictError	"more units settled than reserved"
//	@Failure		413			{object}	httpx.TooLargeError	"body over 1 MiB"
//	@Failure		500			{object}	httpx.InternalError
//	@Failure		503			{object}	httpx.UnavailableError	"database unavailable"
//	@Security		Bearer
//	@Failure		401	{object}	httpx.ErrorEnvelope	"no valid credential: send the service token; the answer carries WWW-Authenticate: Bearer"
//	@Header			401	{string}	WWW-Authenticate	"Bearer realm=seckill"
//	@Failure		403	{object}	httpx.ErrorEnvelope	"a valid credential that is not the service token (an administrator cannot do this either)"
//	@Failure		415	{object}	httpx.ErrorEnvelope	"a body declared as anything but application/json"
//	@Router			/products/{id}/reservations/{activity_id}/settlement [put]
func handleSettle(s *Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, activityID, err := reservationIDs(r)
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

// reservationIDs reads the product and activity ids of a reservation's
// routes, /products/{id}/reservations/{activity_id}/...
func reservationIDs(r *http.Request) (id, activityID int64, err error) {
	if id, err = httpx.PathID(r, "id"); err != nil {
		return 0, 0, err
	}
	activityID, err = httpx.PathID(r, "activity_id")
	return id, activityID, err
}
