package activity

import (
	"net/http"

	"github.com/seckill/seckill/internal/platform/auth"
	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/platform/httpx"
)

// handleCreateActivity handles POST /activities.
//
//	@Summary		Create a sale activity
//	@Description	Checks the product with the product service and reserves stock units of its inventory there. The window must end after it starts and in the future; it may start in the past, and the sale then runs at once.
//	@ID				createActivity
//	@Tags			activities
//	@Accept			json
//	@Produce		json
//	@Param			activity	body		CreateRequest	true	"the new activity"
//	@Success		201			{object}	httpx.Envelope{data=Activity}
//	@Failure		400			{object}	httpx.BadRequestError	"invalid input or unknown product"
//	@Failure		409			{object}	httpx.ConflictError		"not enough inventory"
//	@Failure		413			{object}	httpx.TooLargeError		"body over 1 MiB"
//	@Failure		500			{object}	httpx.InternalError
//	@Failure		503			{object}	httpx.UnavailableError	"database or product service unavailable"
//	@Security		Bearer
//	@Failure		401	{object}	httpx.ErrorEnvelope	"no valid credential: send the admin token; the answer carries WWW-Authenticate: Bearer"
//	@Header			401	{string}	WWW-Authenticate	"Bearer realm=seckill"
//	@Failure		403	{object}	httpx.ErrorEnvelope	"a valid credential that is not the admin token"
//	@Failure		415	{object}	httpx.ErrorEnvelope	"a body declared as anything but application/json"
//	@Router			/activities [post]
func handleCreateActivity(cat *Catalog) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		in, err := httpx.Decode[CreateRequest](w, r)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		a, err := cat.Create(r.Context(), in)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		httpx.Write(w, http.StatusCreated, a)
	}
}

// handleListActivities handles GET /activities.
//
//	@Summary	List activities
//	@ID			listActivities
//	@Tags		activities
//	@Produce	json
//	@Param		limit	query		int	false	"page size"		minimum(1)	maximum(100)	default(20)
//	@Param		offset	query		int	false	"rows to skip"	minimum(0)	default(0)
//	@Success	200		{object}	httpx.ListEnvelope{data=[]Activity}
//	@Failure	400		{object}	httpx.BadRequestError
//	@Failure	500		{object}	httpx.InternalError
//	@Failure	503		{object}	httpx.UnavailableError	"database unavailable"
//	@Router		/activities [get]
func handleListActivities(s *Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		limit, offset, err := httpx.Page(r)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		as, total, err := s.List(r.Context(), limit, offset)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		httpx.List(w, as, httpx.Pagination{Limit: limit, Offset: offset, Total: total})
	}
}

// handleGetActivity handles GET /activities/{id}.
//
//	@Summary		Get an activity
//	@Description	Embeds the product as the product service describes it; when that service cannot be reached, product_error says why.
//	@ID				getActivity
//	@Tags			activities
//	@Produce		json
//	@Param			id	path		int	true	"activity id"	minimum(1)	format(int64)	example(1)
//	@Success		200	{object}	httpx.Envelope{data=Activity}
//	@Failure		400	{object}	httpx.BadRequestError
//	@Failure		404	{object}	httpx.NotFoundError
//	@Failure		500	{object}	httpx.InternalError
//	@Failure		503	{object}	httpx.UnavailableError	"database unavailable"
//	@Router			/activities/{id} [get]
func handleGetActivity(s *Store, products productClient) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := httpx.PathID(r, "id")
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		a, err := s.Get(r.Context(), id)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		if _, raw, err := products.get(r.Context(), a.ProductID); err != nil {
			a.ProductError = errs.MessageOf(err)
		} else {
			a.Product = raw
		}
		httpx.OK(w, a)
	}
}

// handleUpdateActivity handles PUT /activities/{id}.
//
//	@Summary		Update an activity
//	@Description	Changes the fields present in the body. Once the sale has started, stock, product and start time are frozen (409).
//	@ID				updateActivity
//	@Tags			activities
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int				true	"activity id"	minimum(1)	format(int64)	example(1)
//	@Param			activity	body		UpdateRequest	true	"fields to change"
//	@Success		200			{object}	httpx.Envelope{data=Activity}
//	@Failure		400			{object}	httpx.BadRequestError
//	@Failure		404			{object}	httpx.NotFoundError
//	@Failure		409			{object}	httpx.ConflictError	"frozen field or not enough inventory"
//	@Failure		413			{object}	httpx.TooLargeError	"body over 1 MiB"
//	@Failure		500			{object}	httpx.InternalError
//	@Failure		503			{object}	httpx.UnavailableError	"database or product service unavailable"
//	@Security		Bearer
//	@Failure		401	{object}	httpx.ErrorEnvelope	"no valid credential: send the admin token; the answer carries WWW-Authenticate: Bearer"
//	@Header			401	{string}	WWW-Authenticate	"Bearer realm=seckill"
//	@Failure		403	{object}	httpx.ErrorEnvelope	"a valid credential that is not the admin token"
//	@Failure		415	{object}	httpx.ErrorEnvelope	"a body declared as anything but application/json"
//	@Router			/activities/{id} [put]
func handleUpdateActivity(cat *Catalog) http.HandlerFunc {
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
		a, err := cat.Update(r.Context(), id, in)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		httpx.OK(w, a)
	}
}

// handleDeleteActivity handles DELETE /activities/{id}.
//
//	@Summary		Delete an activity
//	@Description	Refused once anything was sold; releases the activity's reservation.
//	@ID				deleteActivity
//	@Tags			activities
//	@Produce		json
//	@Param			id	path		int	true	"activity id"	minimum(1)	format(int64)	example(1)
//	@Success		200	{object}	httpx.Envelope{data=Deleted}
//	@Failure		400	{object}	httpx.BadRequestError
//	@Failure		404	{object}	httpx.NotFoundError
//	@Failure		409	{object}	httpx.ConflictError	"something was sold"
//	@Failure		500	{object}	httpx.InternalError
//	@Failure		503	{object}	httpx.UnavailableError	"database or product service unavailable"
//	@Security		Bearer
//	@Failure		401	{object}	httpx.ErrorEnvelope	"no valid credential: send the admin token; the answer carries WWW-Authenticate: Bearer"
//	@Header			401	{string}	WWW-Authenticate	"Bearer realm=seckill"
//	@Failure		403	{object}	httpx.ErrorEnvelope	"a valid credential that is not the admin token"
//	@Router			/activities/{id} [delete]
func handleDeleteActivity(cat *Catalog) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := httpx.PathID(r, "id")
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		if err := cat.Delete(r.Context(), id); err != nil {
			httpx.Error(w, r, err)
			return
		}
		httpx.OK(w, Deleted{ID: id})
	}
}

// handleOutcome handles GET /activities/{id}/seckill/{user_id}.
//
//	@Summary		A user's persisted outcome
//	@Description	Read from the database, so it answers the same after any restart. status is won with the order_id when the user holds a win; forfeited when their order was cancelled or expired (they cannot win again here); otherwise what a purchase would answer now (ended, not_started, sold_out), or open when a purchase could still win.
//	@ID				getSeckillOutcome
//	@Tags			seckill
//	@Produce		json
//	@Param			id		path		int	true	"activity id"	minimum(1)	format(int64)	example(1)
//	@Param			user_id	path		int	true	"user id"		minimum(1)	format(int64)	example(10001)
//	@Success		200		{object}	httpx.Envelope{data=Outcome}
//	@Failure		400		{object}	httpx.BadRequestError
//	@Failure		404		{object}	httpx.NotFoundError	"unknown activity"
//	@Failure		500		{object}	httpx.InternalError
//	@Failure		503		{object}	httpx.UnavailableError	"database unavailable, or the outcome as read could not be confirmed replicated in time (a win is never answered until it is); retry"
//	@Security		Bearer
//	@Failure		401	{object}	httpx.ErrorEnvelope	"with USER_JWT_SECRET set: no valid buyer token (or admin token); the answer carries WWW-Authenticate: Bearer"
//	@Header			401	{string}	WWW-Authenticate	"Bearer realm=seckill"
//	@Failure		403	{object}	httpx.ErrorEnvelope	"another user's token, or a service token"
//	@Router			/activities/{id}/seckill/{user_id} [get]
func handleOutcome(s *Sales, a *auth.Authenticator) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := httpx.PathID(r, "id")
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		user, err := httpx.PathID(r, "user_id")
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		if err := a.Permit(r.Context(), user); err != nil {
			httpx.Error(w, r, err)
			return
		}
		o, err := s.Outcome(r.Context(), id, user)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		httpx.OK(w, o)
	}
}

// handleStats handles GET /activities/{id}/stats.
//
//	@Summary	An activity's sale progress
//	@ID			getActivityStats
//	@Tags		seckill
//	@Produce	json
//	@Param		id	path		int	true	"activity id"	minimum(1)	format(int64)	example(1)
//	@Success	200	{object}	httpx.Envelope{data=Stats}
//	@Failure	400	{object}	httpx.BadRequestError
//	@Failure	404	{object}	httpx.NotFoundError
//	@Failure	500	{object}	httpx.InternalError
//	@Failure	503	{object}	httpx.UnavailableError	"database unavailable"
//	@Router		/activities/{id}/stats [get]
func handleStats(s *Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := httpx.PathID(r, "id")
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		st, err := s.Stats(r.Context(), id)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		httpx.OK(w, st)
	}
}
