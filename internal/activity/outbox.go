package activity

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seckill/seckill/internal/platform/db"
	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/platform/money"
)

// Outbox is the relay's view of the winners table: every win is an order
// to deliver until the order service confirmed it.
type Outbox struct {
	pool *pgxpool.Pool
}

// NewOutbox returns an Outbox on pool.
func NewOutbox(pool *pgxpool.Pool) *Outbox { return &Outbox{pool: pool} }

// Delivery is one committed win the order service has not confirmed.
type Delivery struct {
	OrderID    uuid.UUID
	ActivityID int64
	UserID     int64
	ProductID  int64
	Quantity   int
	Price      money.Cents
}

// Undelivered returns up to limit wins awaiting delivery, oldest first.
func (s *Outbox) Undelivered(ctx context.Context, limit int) (_ []Delivery, err error) {
	defer errs.Annotate(&err, "Outbox.Undelivered(%d)", limit)
	const q = `SELECT w.order_id, w.activity_id, w.user_id, a.product_id, w.quantity, (a.price * 100)::bigint
		FROM activity.winners w JOIN activity.activities a ON a.id = w.activity_id
		WHERE w.delivered_at IS NULL AND w.delivery_error IS NULL
		ORDER BY w.won_at LIMIT $1`
	rows, err := s.pool.Query(ctx, q, limit)
	if err != nil {
		return nil, db.Map(err, "winners")
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) {
		var d Delivery
		err := r.Scan(&d.OrderID, &d.ActivityID, &d.UserID, &d.ProductID, &d.Quantity, &d.Price)
		return d, err
	})
}

// MarkDelivered records that the order service holds these orders.
func (s *Outbox) MarkDelivered(ctx context.Context, orderIDs []uuid.UUID) (err error) {
	defer errs.Annotate(&err, "Outbox.MarkDelivered(%d orders)", len(orderIDs))
	if len(orderIDs) == 0 {
		return nil
	}
	_, err = s.pool.Exec(ctx, `UPDATE activity.winners SET delivered_at = now()
		WHERE order_id = ANY($1) AND delivered_at IS NULL`, orderIDs)
	return db.Map(err, "winners")
}

// MarkFailed records that the order service refused an order for good.
func (s *Outbox) MarkFailed(ctx context.Context, orderID uuid.UUID, reason string) (err error) {
	defer errs.Annotate(&err, "Outbox.MarkFailed(%s)", orderID)
	_, err = s.pool.Exec(ctx, `UPDATE activity.winners SET delivery_error = $2 WHERE order_id = $1`, orderID, reason)
	return db.Map(err, "winners")
}

// Backlog counts the committed wins awaiting delivery, in every activity.
func (s *Outbox) Backlog(ctx context.Context) (_ int64, err error) {
	defer errs.Annotate(&err, "Outbox.Backlog")
	var n int64
	err = s.pool.QueryRow(ctx, `SELECT count(*) FROM activity.winners WHERE delivered_at IS NULL AND delivery_error IS NULL`).Scan(&n)
	return n, db.Map(err, "winners")
}
