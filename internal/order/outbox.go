package order

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/seckill/seckill/internal/platform/db"
	"github.com/seckill/seckill/internal/platform/errs"
)

// The orders table is also the outbox of settlements: an order that
// reached its final status stays unreported until the activity service
// confirmed it. The sweeper's expiry and the relay's reads live here.

// expireDue expires up to $1 created orders past their pay_by. SKIP LOCKED
// lets several order-service instances sweep at once, each taking rows the
// others do not hold, and never waits for a buyer paying right now: the
// buyer's transaction sees the deadline itself.
const expireDue = `UPDATE orders.orders o SET status = 'expired', updated_at = now()
	FROM (SELECT id FROM orders.orders WHERE status = 'created' AND pay_by <= now()
		ORDER BY pay_by LIMIT $1 FOR UPDATE SKIP LOCKED) due
	WHERE o.id = due.id
	RETURNING o.id`

// Expire expires up to limit created orders whose pay_by has passed and
// returns how many it expired.
func (s *Store) Expire(ctx context.Context, limit int) (_ int, err error) {
	defer errs.Annotate(&err, "Store.Expire")
	tag, err := s.pool.Exec(ctx, expireDue, limit)
	if err != nil {
		return 0, db.Map(err, "orders")
	}
	n := int(tag.RowsAffected())
	if n > 0 {
		s.opt.OnSettle(StatusExpired, n)
	}
	return n, nil
}

// Unreported returns up to limit settled orders whose final status the
// activity service has not confirmed, oldest settlement first.
func (s *Store) Unreported(ctx context.Context, limit int) (_ []Settlement, err error) {
	defer errs.Annotate(&err, "Store.Unreported")
	const q = `SELECT id, activity_id, user_id, status FROM orders.orders
		WHERE status <> 'created' AND settled_reported_at IS NULL AND settle_error IS NULL
		ORDER BY updated_at LIMIT $1`
	rows, err := s.pool.Query(ctx, q, limit)
	if err != nil {
		return nil, db.Map(err, "orders")
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Settlement, error) {
		var st Settlement
		err := r.Scan(&st.OrderID, &st.ActivityID, &st.UserID, &st.Status)
		return st, err
	})
}

// MarkReported records that the activity service knows these orders'
// final status.
func (s *Store) MarkReported(ctx context.Context, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `UPDATE orders.orders SET settled_reported_at = now()
		WHERE id = ANY($1) AND settled_reported_at IS NULL`, ids)
	return db.Map(err, "orders")
}

// MarkSettleFailed records that the activity service refused an order's
// settlement for good, which takes it out of the outbox.
func (s *Store) MarkSettleFailed(ctx context.Context, id uuid.UUID, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE orders.orders SET settle_error = $2 WHERE id = $1`, id, reason)
	return db.Map(err, "orders")
}

// Backlog counts the settled orders not yet reported to the activity
// service.
func (s *Store) Backlog(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM orders.orders
		WHERE status <> 'created' AND settled_reported_at IS NULL AND settle_error IS NULL`).Scan(&n)
	return n, db.Map(err, "orders")
}
