package order

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/seckill/seckill/internal/platform/auth"
	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/platform/httpx"
)

// handleCreateOrder handles POST /orders.
//
//	@Summary		Record an order
//	@ID				createOrder
//	@Description	Idempotent on id: repeating the request returns the recorded order (200). Another order for the same user and activity, or the same id with other content, is a conflict.
//	@Tags			orders
//	@Accept			json
//	@Produce		json
//	@Param			order	body		CreateRequest				true	"the order"
//	@Success		201		{object}	httpx.Envelope{data=Order}	"created"
//	@Success		200		{object}	httpx.Envelope{data=Order}	"already recorded"
//	@Failure		400		{object}	httpx.BadRequestError
//	@Failure		409		{object}	httpx.ConflictError
//	@Failure		413		{object}	httpx.TooLargeError	"body over 1 MiB"
//	@Failure		500		{object}	httpx.InternalError
//	@Failure		503		{object}	httpx.UnavailableError	"database unavailable"
//	@Security		Bearer
//	@Failure		401	{object}	httpx.ErrorEnvelope	"no valid credential: send the service token; the answer carries WWW-Authenticate: Bearer"
//	@Header			401	{string}	WWW-Authenticate	"Bearer realm=seckill"
//	@Failure		403	{object}	httpx.ErrorEnvelope	"a valid credential that is not the service token (an administrator cannot do this either)"
//	@Failure		415	{object}	httpx.ErrorEnvelope	"a body declared as anything but application/json"
//	@Router			/orders [post]
func handleCreateOrder(s *Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		in, err := httpx.Decode[CreateRequest](w, r)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		o, created, err := s.Create(r.Context(), in)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		httpx.Write(w, status, o)
	}
}

// handleCreateBatch handles POST /orders/batch.
//
//	@Summary		Record a batch of orders
//	@ID				createOrderBatch
//	@Description	Written in one transaction. Each order is reported as created, existing (the same order was recorded before) or conflict (it contradicts a recorded order); a conflict does not fail the others. An invalid order fails the whole batch with 400 and nothing is written.
//	@Tags			orders
//	@Accept			json
//	@Produce		json
//	@Param			batch	body		BatchRequest	true	"1 to 1000 orders"
//	@Success		200		{object}	httpx.Envelope{data=BatchResult}
//	@Failure		400		{object}	httpx.BadRequestError
//	@Failure		413		{object}	httpx.TooLargeError
//	@Failure		500		{object}	httpx.InternalError
//	@Failure		503		{object}	httpx.UnavailableError	"database unavailable"
//	@Security		Bearer
//	@Failure		401	{object}	httpx.ErrorEnvelope	"no valid credential: send the service token; the answer carries WWW-Authenticate: Bearer"
//	@Header			401	{string}	WWW-Authenticate	"Bearer realm=seckill"
//	@Failure		403	{object}	httpx.ErrorEnvelope	"a valid credential that is not the service token (an administrator cannot do this either)"
//	@Failure		415	{object}	httpx.ErrorEnvelope	"a body declared as anything but application/json"
//	@Router			/orders/batch [post]
func handleCreateBatch(s *Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		in, err := httpx.Decode[BatchRequest](w, r)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		res, err := s.CreateBatch(r.Context(), in.Orders)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		httpx.OK(w, res)
	}
}

// handleListOrders handles GET /orders.
//
//	@Summary	List orders
//	@ID			listOrders
//	@Tags		orders
//	@Produce	json
//	@Param		user_id		query		int	false	"only this user's orders"		minimum(1)	example(10001)
//	@Param		activity_id	query		int	false	"only this activity's orders"	minimum(1)	example(1)
//	@Param		limit		query		int	false	"page size"						minimum(1)	maximum(100)	default(20)
//	@Param		offset		query		int	false	"rows to skip"					minimum(0)	default(0)
//	@Success	200			{object}	httpx.ListEnvelope{data=[]Order}
//	@Failure	400			{object}	httpx.BadRequestError
//	@Failure	500			{object}	httpx.InternalError
//	@Failure	503			{object}	httpx.UnavailableError	"database unavailable"
//	@Security	Bearer
//	@Failure	401	{object}	httpx.ErrorEnvelope	"no valid buyer token with USER_JWT_SECRET set; or, reading every user's orders, no admin token; the answer carries WWW-Authenticate: Bearer"
//	@Header		401	{string}	WWW-Authenticate	"Bearer realm=seckill"
//	@Failure	403	{object}	httpx.ErrorEnvelope	"another user's orders, or a service token"
//	@Router		/orders [get]
func handleListOrders(s *Store, a *auth.Authenticator) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f, err := listFilter(r)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		// A buyer lists its own orders; every user's, only an administrator.
		switch c := auth.From(r.Context()); {
		case f.UserID == 0 && c.Role == auth.Buyer:
			f.UserID = c.UserID
		case f.UserID == 0:
			err = a.SeesEveryone(r.Context())
		default:
			err = a.Permit(r.Context(), f.UserID)
		}
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		os, total, err := s.List(r.Context(), f)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		httpx.List(w, os, httpx.Pagination{Limit: f.Limit, Offset: f.Offset, Total: total})
	}
}

// listFilter reads GET /orders' query: the page, and user_id and
// activity_id, each a positive integer when present (0 means any).
func listFilter(r *http.Request) (Filter, error) {
	limit, offset, err := httpx.Page(r)
	if err != nil {
		return Filter{}, err
	}
	f := Filter{Limit: limit, Offset: offset}
	q, err := httpx.Query(r)
	if err != nil {
		return Filter{}, err
	}
	p := errs.FieldErrors{}
	for name, dst := range map[string]*int64{"user_id": &f.UserID, "activity_id": &f.ActivityID} {
		if v := q.Get(name); v != "" {
			n, err := httpx.ParseID(name, v)
			if err != nil {
				p[name] = "must be a positive integer"
			}
			*dst = n
		}
	}
	if len(p) > 0 {
		return Filter{}, errs.InvalidFields(p)
	}
	return f, nil
}

// pathOrderID parses the {id} URL parameter as a UUID.
func pathOrderID(r *http.Request) (uuid.UUID, error) {
	s := httpx.URLParam(r, "id")
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return uuid.Nil, errs.InvalidFields(errs.FieldErrors{"id": "must be a UUID such as 0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10"})
	}
	return id, nil
}

// ownOrder reads the order the {id} URL parameter names, when the caller
// may see it: its buyer, or an administrator. An order's buyer never
// changes, so checking before acting on it is enough.
func ownOrder(r *http.Request, s *Store, a *auth.Authenticator) (Order, error) {
	id, err := pathOrderID(r)
	if err != nil {
		return Order{}, err
	}
	o, err := s.Get(r.Context(), id)
	if err != nil {
		return Order{}, err
	}
	if err := a.Permit(r.Context(), o.UserID); err != nil {
		return Order{}, err
	}
	return o, nil
}

// handleGetOrder handles GET /orders/{id}.
//
//	@Summary	Get an order
//	@ID			getOrder
//	@Tags		orders
//	@Produce	json
//	@Param		id	path		string	true	"order id"	format(uuid)	example(0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10)
//	@Success	200	{object}	httpx.Envelope{data=Order}
//	@Failure	400	{object}	httpx.BadRequestError
//	@Failure	404	{object}	httpx.NotFoundError
//	@Failure	500	{object}	httpx.InternalError
//	@Failure	503	{object}	httpx.UnavailableError	"database unavailable, or the order as read could not be confirmed replicated in time; retry"
//	@Security	Bearer
//	@Failure	401	{object}	httpx.ErrorEnvelope	"with USER_JWT_SECRET set: no valid buyer token (or admin token); the answer carries WWW-Authenticate: Bearer"
//	@Header		401	{string}	WWW-Authenticate	"Bearer realm=seckill"
//	@Failure	403	{object}	httpx.ErrorEnvelope	"another user's token, or a service token"
//	@Router		/orders/{id} [get]
func handleGetOrder(s *Store, a *auth.Authenticator) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		o, err := ownOrder(r, s, a)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		httpx.OK(w, o)
	}
}

// handlePayOrder handles POST /orders/{id}/pay.
//
//	@Summary		Pay an order
//	@ID				payOrder
//	@Description	The buyer names themselves in the body; with USER_JWT_SECRET set, the buyer is the token's user (the body may then be omitted, and a user_id other than the token's is 403). Another user than the order's gets 403. Paying a paid order again answers the same order. A cancelled or expired order cannot be paid (409), and an order past its pay_by expires instead of being paid (409). Every answer is one the database has confirmed (replicated where commits wait for a standby); when it cannot confirm in time, the answer is 503 with Retry-After, never a guess.
//	@Tags			orders
//	@Accept			json
//	@Produce		json
//	@Param			id		path		string			true	"order id"	format(uuid)	example(0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10)
//	@Param			buyer	body		BuyerRequest	false	"the paying user"
//	@Success		200		{object}	httpx.Envelope{data=Order}
//	@Failure		400		{object}	httpx.BadRequestError
//	@Failure		403		{object}	httpx.ErrorEnvelope	"not the buyer's order, another user's token, or a credential that is not a buyer's"
//	@Failure		404		{object}	httpx.NotFoundError
//	@Failure		409		{object}	httpx.ConflictError	"cancelled, expired, or past pay_by"
//	@Failure		413		{object}	httpx.TooLargeError	"body over 1 MiB"
//	@Failure		500		{object}	httpx.InternalError
//	@Failure		503		{object}	httpx.UnavailableError	"database unavailable, nothing changed; or the payment's outcome is unknown (the database did not confirm it in time; the message says so): repeat the request, which answers the order as it is"
//	@Header			503		{integer}	Retry-After				"seconds to wait before repeating the request"
//	@Security		Bearer
//	@Failure		401	{object}	httpx.ErrorEnvelope	"with USER_JWT_SECRET set: no valid buyer token; the answer carries WWW-Authenticate: Bearer"
//	@Header			401	{string}	WWW-Authenticate	"Bearer realm=seckill"
//	@Failure		415	{object}	httpx.ErrorEnvelope	"a body declared as anything but application/json"
//	@Router			/orders/{id}/pay [post]
func handlePayOrder(s *Store, a *auth.Authenticator) http.HandlerFunc {
	return handleSettle(s.Pay, a)
}

// handleCancelOrder handles POST /orders/{id}/cancel.
//
//	@Summary		Cancel an order
//	@ID				cancelOrder
//	@Description	The buyer names themselves as for pay. The order's unit goes back to its activity (on sale again while the sale runs, else to the product's inventory), and the buyer cannot win again in that activity. Cancelling a cancelled order again answers the same order. A paid or expired order cannot be cancelled (409), and an order past its pay_by expires instead (409). An outcome the database cannot confirm in time is 503 with Retry-After, as for pay.
//	@Tags			orders
//	@Accept			json
//	@Produce		json
//	@Param			id		path		string			true	"order id"	format(uuid)	example(0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10)
//	@Param			buyer	body		BuyerRequest	false	"the cancelling user"
//	@Success		200		{object}	httpx.Envelope{data=Order}
//	@Failure		400		{object}	httpx.BadRequestError
//	@Failure		403		{object}	httpx.ErrorEnvelope	"not the buyer's order, another user's token, or a credential that is not a buyer's"
//	@Failure		404		{object}	httpx.NotFoundError
//	@Failure		409		{object}	httpx.ConflictError	"paid, expired, or past pay_by"
//	@Failure		413		{object}	httpx.TooLargeError	"body over 1 MiB"
//	@Failure		500		{object}	httpx.InternalError
//	@Failure		503		{object}	httpx.UnavailableError	"database unavailable, nothing changed; or the cancellation's outcome is unknown (the database did not confirm it in time; the message says so): repeat the request, which answers the order as it is"
//	@Header			503		{integer}	Retry-After				"seconds to wait before repeating the request"
//	@Security		Bearer
//	@Failure		401	{object}	httpx.ErrorEnvelope	"with USER_JWT_SECRET set: no valid buyer token; the answer carries WWW-Authenticate: Bearer"
//	@Header			401	{string}	WWW-Authenticate	"Bearer realm=seckill"
//	@Failure		415	{object}	httpx.ErrorEnvelope	"a body declared as anything but application/json"
//	@Router			/orders/{id}/cancel [post]
func handleCancelOrder(s *Store, a *auth.Authenticator) http.HandlerFunc {
	return handleSettle(s.Cancel, a)
}

// retryAfter is the Retry-After of pay's and cancel's 503, in seconds:
// about when a database that did not answer may be asked again.
const retryAfter = "2"

// handleSettle is the shape of pay and cancel: learn the buyer, settle.
// Every 503 carries Retry-After: nothing changed, or the outcome is
// unknown and the repeated request, which is idempotent, tells it.
func handleSettle(settle func(ctx context.Context, id uuid.UUID, user int64) (Order, error), a *auth.Authenticator) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathOrderID(r)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		user, err := buyerOf(w, r, a)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		o, err := settle(r.Context(), id, user)
		if err != nil {
			if errs.Is(err, errs.Unavailable) {
				w.Header().Set("Retry-After", retryAfter)
			}
			httpx.Error(w, r, err)
			return
		}
		httpx.OK(w, o)
	}
}

// buyerOf returns the user a pay or cancel request acts for: the buyer
// token's user when the body is empty, else the body's user_id, which a
// buyer token must match.
func buyerOf(w http.ResponseWriter, r *http.Request, a *auth.Authenticator) (int64, error) {
	if c := auth.From(r.Context()); c.Role == auth.Buyer && r.ContentLength == 0 {
		return c.UserID, nil
	}
	in, err := httpx.Decode[BuyerRequest](w, r)
	if err != nil {
		return 0, err
	}
	return in.UserID, a.Permit(r.Context(), in.UserID)
}
