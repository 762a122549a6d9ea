package activity

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seckill/seckill/internal/platform/db"
	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/platform/httpx"
)

// Settlement statuses: an order's final status, as the order service
// reports it.
const (
	SettledPaid      = "paid"
	SettledCancelled = "cancelled"
	SettledExpired   = "expired"
)

// SettleRequest is the body of POST /activities/settlements.
type SettleRequest struct {
	Settlements []SettleItem `json:"settlements"`
}

// SettleItem is one order's final status.
type SettleItem struct {
	OrderID    uuid.UUID `json:"order_id" swaggertype:"string" example:"0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10"`
	ActivityID int64     `json:"activity_id" example:"1"`
	UserID     int64     `json:"user_id" example:"10001"`
	Status     string    `json:"status" enums:"paid,cancelled,expired" example:"cancelled"`
}

// maxSettlements is the most settlements one request may carry.
const maxSettlements = 1000

// Valid checks every settlement, naming each problem by its index.
func (r SettleRequest) Valid() errs.FieldErrors {
	p := errs.FieldErrors{}
	switch n := len(r.Settlements); {
	case n == 0:
		p["settlements"] = "must hold at least one settlement"
	case n > maxSettlements:
		p["settlements"] = fmt.Sprintf("must hold at most %d settlements", maxSettlements)
	}
	for i, s := range r.Settlements {
		if i >= maxSettlements {
			break
		}
		at := fmt.Sprintf("settlements[%d].", i)
		if s.OrderID == uuid.Nil {
			p[at+"order_id"] = "is required (a UUID)"
		}
		if s.ActivityID <= 0 {
			p[at+"activity_id"] = "must be a positive integer"
		}
		if s.UserID <= 0 {
			p[at+"user_id"] = "must be a positive integer"
		}
		if s.Status != SettledPaid && s.Status != SettledCancelled && s.Status != SettledExpired {
			p[at+"status"] = "must be paid, cancelled or expired"
		}
	}
	return p
}

// Result statuses of a settlement.
const (
	SettleApplied  = "applied"  // recorded now
	SettleExisting = "existing" // recorded before, the same
	SettleConflict = "conflict" // no such win, or settled otherwise
)

// SettleResult is the fate of one settlement.
type SettleResult struct {
	OrderID uuid.UUID `json:"order_id" swaggertype:"string"`
	Status  string    `json:"status" enums:"applied,existing,conflict"`
	Message string    `json:"message,omitempty"`
}

// SettleResults answers POST /activities/settlements, one result per
// settlement in input order.
type SettleResults struct {
	Results []SettleResult `json:"results"`
}

// Settlements is the activity side of what happens to a unit after it is
// won: the receiver of the order service's settlements, the end of a sale
// that gives unsold units back, and the running totals the product service
// is told.
type Settlements struct {
	pool *pgxpool.Pool
}

// NewSettlements returns Settlements on pool.
func NewSettlements(pool *pgxpool.Pool) *Settlements { return &Settlements{pool: pool} }

// settleWins records the final status of the wins $1 once: only where none
// is recorded, and only on the win of the user and activity the order
// names. It returns what it recorded.
const settleWins = `UPDATE activity.winners w SET settled = t.s, settled_at = now()
	FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::text[]) AS t(o, a, u, s)
	WHERE w.order_id = t.o AND w.activity_id = t.a AND w.user_id = t.u AND w.settled IS NULL
	RETURNING w.order_id, w.activity_id, w.quantity, t.s`

// countSettled moves each activity's counts by what was just settled: paid
// units are counted, returned ones go back on sale while the activity is
// open and to the product once it closed.
const countSettled = `UPDATE activity.activities a SET
		paid = a.paid + t.p,
		returned = a.returned + t.r,
		remaining = a.remaining + CASE WHEN a.closed_at IS NULL THEN t.r ELSE 0 END,
		released = a.released + CASE WHEN a.closed_at IS NULL THEN 0 ELSE t.r END,
		product_version = a.product_version + 1
	FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS t(id, p, r)
	WHERE a.id = t.id`

// Applied is what a call to Apply changed, by activity.
type Applied struct {
	// Returned lists the activities that got units back.
	Returned []int64
	// Paid and ReturnedUnits count the units settled now.
	Paid, ReturnedUnits int64
}

// Apply records settlements, each exactly once: a settlement already
// recorded is "existing" and changes nothing, so the order service may
// send one as often as it needs to (after a crash, a lost answer, or from
// two instances at once). One transaction holds the locks of the activities
// involved, in id order, the lock every purchase of them takes too: the
// counts move in step with the wins.
func (s *Settlements) Apply(ctx context.Context, in []SettleItem) (res SettleResults, ap Applied, err error) {
	defer errs.Annotate(&err, "Settlements.Apply(%d settlements)", len(in))
	n := len(in)
	orders, acts, users, sts := make([]uuid.UUID, n), make([]int64, n), make([]int64, n), make([]string, n)
	for i, x := range in {
		orders[i], acts[i], users[i], sts[i] = x.OrderID, x.ActivityID, x.UserID, x.Status
	}
	ids := slices.Compact(slices.Sorted(slices.Values(acts)))
	err = db.Transact(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM activity.activities WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids); err != nil {
			return db.Map(err, "activities")
		}
		rows, err := tx.Query(ctx, settleWins, orders, acts, users, sts)
		if err != nil {
			return db.Map(err, "winners")
		}
		type counts struct{ paid, returned int64 }
		by := map[int64]*counts{}
		applied := map[uuid.UUID]bool{}
		for rows.Next() {
			var o uuid.UUID
			var a, q int64
			var st string
			if err := rows.Scan(&o, &a, &q, &st); err != nil {
				rows.Close()
				return db.Map(err, "winners")
			}
			applied[o] = true
			c := by[a]
			if c == nil {
				c = &counts{}
				by[a] = c
			}
			if st == SettledPaid {
				c.paid += q
			} else {
				c.returned += q
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return db.Map(err, "winners")
		}
		ap = Applied{}
		if len(by) > 0 {
			var cid, cp, cr []int64
			for a, c := range by {
				cid, cp, cr = append(cid, a), append(cp, c.paid), append(cr, c.returned)
				ap.Paid += c.paid
				ap.ReturnedUnits += c.returned
				if c.returned > 0 {
					ap.Returned = append(ap.Returned, a)
				}
			}
			if _, err := tx.Exec(ctx, countSettled, cid, cp, cr); err != nil {
				return db.Map(err, "activities")
			}
		}
		res.Results, err = s.explain(ctx, tx, in, applied)
		return err
	})
	if err != nil {
		return SettleResults{}, Applied{}, err
	}
	return res, ap, nil
}

// explain answers every settlement: applied now, or else what the
// database holds for its order.
func (s *Settlements) explain(ctx context.Context, tx pgx.Tx, in []SettleItem, applied map[uuid.UUID]bool) ([]SettleResult, error) {
	var others []uuid.UUID
	for _, x := range in {
		if !applied[x.OrderID] {
			others = append(others, x.OrderID)
		}
	}
	type win struct {
		activity, user int64
		settled        *string
	}
	stored := map[uuid.UUID]win{}
	if len(others) > 0 {
		rows, err := tx.Query(ctx, `SELECT order_id, activity_id, user_id, settled FROM activity.winners WHERE order_id = ANY($1)`, others)
		if err != nil {
			return nil, db.Map(err, "winners")
		}
		for rows.Next() {
			var o uuid.UUID
			var w win
			if err := rows.Scan(&o, &w.activity, &w.user, &w.settled); err != nil {
				rows.Close()
				return nil, db.Map(err, "winners")
			}
			stored[o] = w
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, db.Map(err, "winners")
		}
	}
	out := make([]SettleResult, len(in))
	seen := map[uuid.UUID]bool{}
	for i, x := range in {
		r := SettleResult{OrderID: x.OrderID}
		w, ok := stored[x.OrderID]
		switch {
		case applied[x.OrderID] && !seen[x.OrderID]:
			r.Status = SettleApplied
		case applied[x.OrderID]:
			r.Status = SettleExisting // a repeat within the batch
		case !ok || w.activity != x.ActivityID || w.user != x.UserID:
			r.Status, r.Message = SettleConflict, fmt.Sprintf("no win of user %d in activity %d has order %s", x.UserID, x.ActivityID, x.OrderID)
		case w.settled != nil && *w.settled == x.Status:
			r.Status = SettleExisting
		default:
			r.Status, r.Message = SettleConflict, fmt.Sprintf("order %s is recorded as %s", x.OrderID, *w.settled)
		}
		seen[x.OrderID] = true
		out[i] = r
	}
	return out, nil
}

// handleSettle handles POST /activities/settlements.
//
//	@Summary		Record orders' final statuses
//	@ID				settleOrders
//	@Description	Called by the order service (its outbox of settlements). Idempotent on the order id: each settlement is recorded once, in one transaction with the counts it moves. A cancelled or expired order gives its unit back: on sale again while the activity runs (remaining grows by one, and every instance sells it within 2 s), to the product's inventory after it ended; its buyer is forfeited in that activity. A paid order counts as sold. Each settlement answers applied (recorded now), existing (recorded before, the same) or conflict (no such win, or settled otherwise); a conflict does not fail the others.
//	@Tags			settlements
//	@Accept			json
//	@Produce		json
//	@Param			settlements	body		SettleRequest	true	"1 to 1000 settlements"
//	@Success		200			{object}	httpx.Envelope{data=SettleResults}
//	@Failure		400			{object}	httpx.BadRequestError
//	@Failure		413			{object}	httpx.TooLargeError
//	@Failure		500			{object}	httpx.InternalError
//	@Failure		503			{object}	httpx.UnavailableError	"database unavailable"
//	@Security		Bearer
//	@Failure		401	{object}	httpx.ErrorEnvelope	"no valid credential: send the service token; the answer carries WWW-Authenticate: Bearer"
//	@Header			401	{string}	WWW-Authenticate	"Bearer realm=seckill"
//	@Failure		403	{object}	httpx.ErrorEnvelope	"a valid credential that is not the service token"
//	@Failure		415	{object}	httpx.ErrorEnvelope	"a body declared as anything but application/json"
//	@Router			/activities/settlements [post]
func handleSettle(s *Settlements, applied func(Applied)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		in, err := httpx.Decode[SettleRequest](w, r)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		res, ap, err := s.Apply(r.Context(), in.Settlements)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		applied(ap)
		httpx.OK(w, res)
	}
}
