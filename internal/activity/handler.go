package activity

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/platform/httpx"
	"github.com/seckill/seckill/internal/seckill"
)

// handleCreateActivity handles POST /activities.
//
//	@Summary		Create a sale activity
//	@Description	Checks the product with the product service and reserves stock units of its inventory there.
//	@Tags			activities
//	@Accept			json
//	@Produce		json
//	@Param			activity	body		CreateRequest	true	"the new activity"
//	@Success		201			{object}	httpx.Envelope{data=Activity}
//	@Failure		400			{object}	httpx.ErrorEnvelope	"invalid input or unknown product"
//	@Failure		409			{object}	httpx.ErrorEnvelope	"not enough inventory"
//	@Failure		503			{object}	httpx.ErrorEnvelope	"product service unavailable"
//	@Router			/activities [post]
func handleCreateActivity(s *Store, products productClient) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		in, err := httpx.Decode[CreateRequest](w, r)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		ctx := r.Context()
		p, err := lookupProduct(ctx, products, in.ProductID)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		a, err := s.Create(ctx, in, p.Price, func(id int64) error {
			return products.reserve(ctx, in.ProductID, id, in.Stock)
		})
		if err != nil {
			if a.ID != 0 && !errs.Is(err, errs.Conflict) {
				// The reservation may have been made before the commit
				// failed, or the commit may have happened after all.
				reconcileReservation(ctx, s, products, a.ID, in.ProductID)
			}
			httpx.Error(w, r, err)
			return
		}
		httpx.Write(w, http.StatusCreated, a)
	}
}

// lookupProduct fetches a product the request names; an unknown one is the
// request's fault.
func lookupProduct(ctx context.Context, products productClient, id int64) (product, error) {
	p, _, err := products.get(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return product{}, httpx.Invalid(httpx.FieldErrors{"product_id": "product does not exist"})
	}
	return p, err
}

// handleListActivities handles GET /activities.
//
//	@Summary	List activities
//	@Tags		activities
//	@Produce	json
//	@Param		limit	query		int	false	"page size (1-100)"	default(20)
//	@Param		offset	query		int	false	"rows to skip"		default(0)
//	@Success	200		{object}	httpx.Envelope{data=[]Activity}
//	@Failure	400		{object}	httpx.ErrorEnvelope
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
//	@Tags			activities
//	@Produce		json
//	@Param			id	path		int	true	"activity id"
//	@Success		200	{object}	httpx.Envelope{data=Activity}
//	@Failure		400	{object}	httpx.ErrorEnvelope
//	@Failure		404	{object}	httpx.ErrorEnvelope
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
//	@Tags			activities
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int				true	"activity id"
//	@Param			activity	body		UpdateRequest	true	"fields to change"
//	@Success		200			{object}	httpx.Envelope{data=Activity}
//	@Failure		400			{object}	httpx.ErrorEnvelope
//	@Failure		404			{object}	httpx.ErrorEnvelope
//	@Failure		409			{object}	httpx.ErrorEnvelope	"frozen field or not enough inventory"
//	@Router			/activities/{id} [put]
func handleUpdateActivity(s *Store, products productClient, engine *seckill.Engine) http.HandlerFunc {
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
		ctx := r.Context()
		var touched []int64 // products whose reservation the update may have moved
		a, err := s.Update(ctx, id, func(cur Activity) (Activity, error) {
			if (in.Stock != nil && *in.Stock != cur.Stock) || (in.ProductID != nil && *in.ProductID != cur.ProductID) {
				touched = []int64{cur.ProductID}
				if in.ProductID != nil {
					touched = append(touched, *in.ProductID)
				}
			}
			return applyUpdate(ctx, products, cur, in, time.Now())
		})
		// The engine's view of the activity is stale either way.
		engine.Forget(id)
		if err != nil {
			if touched != nil {
				reconcileReservation(ctx, s, products, id, touched...)
			}
			httpx.Error(w, r, err)
			return
		}
		httpx.OK(w, a)
	}
}

// applyUpdate computes the updated activity and moves its reservation when
// the stock or product changes.
func applyUpdate(ctx context.Context, products productClient, cur Activity, in UpdateRequest, now time.Time) (Activity, error) {
	next := cur
	if in.Name != nil {
		next.Name = *in.Name
	}
	if in.StartTime != nil {
		next.StartTime = *in.StartTime
	}
	if in.EndTime != nil {
		next.EndTime = *in.EndTime
	}
	if in.Stock != nil {
		next.Stock = *in.Stock
	}
	if in.ProductID != nil {
		next.ProductID = *in.ProductID
	}
	frozen := next.Stock != cur.Stock || next.ProductID != cur.ProductID || !next.StartTime.Equal(cur.StartTime)
	if frozen && (cur.Started(now) || cur.Remaining != cur.Stock) {
		return Activity{}, errs.E(errs.Conflict, "activity %d has started: its stock, product and start time can no longer change", cur.ID)
	}
	if !next.EndTime.After(next.StartTime) {
		return Activity{}, httpx.Invalid(httpx.FieldErrors{"end_time": "must be after start_time"})
	}
	switch {
	case next.ProductID != cur.ProductID:
		p, err := lookupProduct(ctx, products, next.ProductID)
		if err != nil {
			return Activity{}, err
		}
		if err := products.reserve(ctx, next.ProductID, cur.ID, next.Stock); err != nil {
			return Activity{}, err
		}
		if err := products.release(ctx, cur.ProductID, cur.ID); err != nil {
			_ = products.release(context.WithoutCancel(ctx), next.ProductID, cur.ID)
			return Activity{}, err
		}
		next.Price = p.Price
	case next.Stock != cur.Stock:
		if err := products.reserve(ctx, cur.ProductID, cur.ID, next.Stock); err != nil {
			return Activity{}, err
		}
	}
	return next, nil
}

// reconcileReservation makes the product service hold what the database
// says activity id is. Creating, editing and deleting an activity call the
// product service inside the transaction, before the commit; when the
// commit then fails (or its outcome is unknown), the reservation may no
// longer match the row. The activity's product is made to reserve its
// stock, and every other product in touched to hold nothing for it; when
// the activity does not exist, none does. Both calls set an absolute state
// and may be repeated, so this is right whatever had happened. When even
// that fails, the log says so: repeating the request reconciles.
func reconcileReservation(ctx context.Context, s *Store, products productClient, id int64, touched ...int64) {
	ctx = context.WithoutCancel(ctx)
	a, err := s.Get(ctx, id)
	if err != nil && !errs.Is(err, errs.NotFound) {
		slog.ErrorContext(ctx, "activity's reservation may not match it; repeat the request", "activity_id", id, "err", err)
		return
	}
	exists := err == nil
	if exists {
		if err := products.reserve(ctx, a.ProductID, id, a.Stock); err != nil {
			slog.ErrorContext(ctx, "restore an activity's reservation", "activity_id", id, "product_id", a.ProductID, "err", err)
		}
	}
	for _, p := range touched {
		if exists && p == a.ProductID {
			continue
		}
		if err := products.release(ctx, p, id); err != nil {
			slog.ErrorContext(ctx, "release a reservation the activity does not hold", "activity_id", id, "product_id", p, "err", err)
		}
	}
}

// handleDeleteActivity handles DELETE /activities/{id}.
//
//	@Summary		Delete an activity
//	@Description	Refused once anything was sold; releases the activity's reservation.
//	@Tags			activities
//	@Produce		json
//	@Param			id	path		int	true	"activity id"
//	@Success		200	{object}	httpx.Envelope{data=object}
//	@Failure		400	{object}	httpx.ErrorEnvelope
//	@Failure		404	{object}	httpx.ErrorEnvelope
//	@Failure		409	{object}	httpx.ErrorEnvelope	"something was sold"
//	@Router			/activities/{id} [delete]
func handleDeleteActivity(s *Store, products productClient, engine *seckill.Engine) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := httpx.PathID(r, "id")
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		var released []int64
		err = s.Delete(r.Context(), id, func(a Activity) error {
			released = []int64{a.ProductID}
			return products.release(r.Context(), a.ProductID, a.ID)
		})
		engine.Forget(id)
		if err != nil {
			if released != nil {
				// The release went out, and the row may still be there.
				reconcileReservation(r.Context(), s, products, id, released...)
			}
			httpx.Error(w, r, err)
			return
		}
		httpx.OK(w, map[string]int64{"id": id})
	}
}

// handleOutcome handles GET /activities/{id}/seckill/{user_id}.
//
//	@Summary		A user's persisted outcome
//	@Description	Read from the database, so it answers the same after any restart.
//	@Tags			seckill
//	@Produce		json
//	@Param			id		path		int	true	"activity id"
//	@Param			user_id	path		int	true	"user id"
//	@Success		200		{object}	httpx.Envelope{data=Outcome}
//	@Failure		400		{object}	httpx.ErrorEnvelope
//	@Failure		404		{object}	httpx.ErrorEnvelope	"unknown activity"
//	@Router			/activities/{id}/seckill/{user_id} [get]
func handleOutcome(s *Store) http.HandlerFunc {
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
//	@Tags		seckill
//	@Produce	json
//	@Param		id	path		int	true	"activity id"
//	@Success	200	{object}	httpx.Envelope{data=Stats}
//	@Failure	400	{object}	httpx.ErrorEnvelope
//	@Failure	404	{object}	httpx.ErrorEnvelope
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
