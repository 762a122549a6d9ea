package activity

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seckill/seckill/internal/platform/db"
	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/seckill"
)

// Sales is the seckill engine's Store: the database side of every purchase,
// and the persisted outcome a user can ask for after any restart.
type Sales struct {
	pool *pgxpool.Pool
}

// NewSales returns a Sales on pool.
func NewSales(pool *pgxpool.Pool) *Sales { return &Sales{pool: pool} }

// Snapshot implements seckill.Store. What it read is confirmed replicated
// before it is returned (db.ConfirmReplicated), so that the gate built from
// it, which answers already_won from memory, never holds a win that a
// failover could take back.
func (s *Sales) Snapshot(ctx context.Context, id int64) (_ seckill.Snapshot, err error) {
	defer errs.Annotate(&err, "Sales.Snapshot(%d)", id)
	const q = `SELECT stock, remaining, start_time, end_time FROM activity.activities WHERE id = $1`
	a := seckill.Activity{ID: id}
	var winners map[int64]uuid.UUID
	err = db.ReadConfirmed(ctx, s.pool, func(conn db.Conn) error {
		if err := conn.QueryRow(ctx, q, id).Scan(&a.Stock, &a.Remaining, &a.StartTime, &a.EndTime); err != nil {
			return db.Map(err, fmt.Sprintf("activity %d", id))
		}
		winners, err = s.winners(ctx, conn, id, nil)
		return err
	})
	if err != nil {
		return seckill.Snapshot{}, err
	}
	return seckill.Snapshot{Activity: a, Winners: winners}, nil
}

// winnersAmong reads which of the users $2 won activity $1, one primary-key
// probe per user. The plain form, user_id = ANY($2), lets the planner scan
// every winner of the activity instead, and during a sale it does: the
// activity is new, so the statistics say it has almost no winners. Each
// commit then read all the wins before it, a cost that grew with the sale.
// LIMIT keeps the lateral subquery from being flattened into a join the
// planner could turn into that same scan.
const winnersAmong = `SELECT u.id, w.held FROM unnest($2::bigint[]) AS u(id)
	CROSS JOIN LATERAL (SELECT ` + heldOrder + ` AS held FROM activity.winners WHERE activity_id = $1 AND user_id = u.id LIMIT 1) w`

// heldOrder is a win's order id as the engine knows it: uuid.Nil once the
// order was cancelled or expired, for a user who forfeited the unit.
const heldOrder = `CASE WHEN settled IN ('cancelled', 'expired') THEN '00000000-0000-0000-0000-000000000000'::uuid ELSE order_id END`

// Commit implements seckill.Store: one statement, activity.commit_claims
// (migrations/activity/00003_commit_claims.sql), decides every claim in a
// transaction of its own. The function holds the rules of the sale: the
// activity row locked first, so commits of one activity are serialised
// across all instances and the winners read after the lock see every win
// before; the sale window compared with the database's clock after the
// lock; already won, forfeited, won in order while stock remains, sold out
// after; the stock decremented conditionally and the winners inserted from
// that update's row.
//
// One statement is one round trip, and the row lock is held only while
// PostgreSQL works and flushes the commit. A transaction driven from here
// held it across a round trip and across this process's wait for a CPU,
// and every other win of the activity waited for that too.
func (s *Sales) Commit(ctx context.Context, id int64, claims []seckill.Claim) (outs []seckill.Outcome, remaining int64, err error) {
	defer errs.Annotate(&err, "Sales.Commit(%d, %d claims)", id, len(claims))
	users := make([]int64, len(claims))
	orders := make([][16]byte, len(claims))
	for i, c := range claims {
		users[i], orders[i] = c.UserID, c.OrderID
	}
	rows, err := s.pool.Query(ctx, `SELECT status, order_id, remaining FROM activity.commit_claims($1, $2, $3)`, id, users, orders)
	if err != nil {
		return nil, 0, db.Map(err, "winners")
	}
	defer rows.Close()
	outs = make([]seckill.Outcome, 0, len(claims))
	for rows.Next() {
		var st string
		var oid pgtype.UUID
		if err := rows.Scan(&st, &oid, &remaining); err != nil {
			return nil, 0, db.Map(err, "winners")
		}
		o, err := decided(seckill.Status(st), oid)
		if err != nil {
			return nil, 0, fmt.Errorf("claim %d: %w", len(outs), err)
		}
		outs = append(outs, o)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.Map(err, "winners")
	}
	switch {
	case len(outs) == 0 && len(claims) > 0:
		return nil, 0, errs.E(errs.NotFound, "activity %d not found", id)
	case len(outs) != len(claims):
		return nil, 0, fmt.Errorf("the commit answered %d of %d claims", len(outs), len(claims))
	}
	return outs, remaining, nil
}

// decided checks one row of commit_claims and turns it into an Outcome.
func decided(st seckill.Status, oid pgtype.UUID) (seckill.Outcome, error) {
	switch st {
	case seckill.Won, seckill.AlreadyWon:
		if !oid.Valid || oid.Bytes == uuid.Nil {
			return seckill.Outcome{}, fmt.Errorf("%s without an order id", st)
		}
		return seckill.Outcome{Status: st, OrderID: oid.Bytes}, nil
	case seckill.Forfeited, seckill.SoldOut, seckill.NotStarted, seckill.Ended:
		return seckill.Outcome{Status: st}, nil
	}
	return seckill.Outcome{}, fmt.Errorf("unknown status %q", st)
}

// Resolve implements seckill.Store: the winners among users, or every
// winner of the activity when users is nil. The engine answers from what
// it returns (a commit's unknown outcome, the sold-out map), so what it
// read is confirmed replicated first: a win committed only locally, by a
// commit whose wait for the standby was cancelled, is an error here
// (errs.Unavailable), never a win.
func (s *Sales) Resolve(ctx context.Context, id int64, users []int64) (_ map[int64]uuid.UUID, err error) {
	defer errs.Annotate(&err, "Sales.Resolve(%d, %d users)", id, len(users))
	var found map[int64]uuid.UUID
	err = db.ReadConfirmed(ctx, s.pool, func(conn db.Conn) error {
		found, err = s.winners(ctx, conn, id, users)
		return err
	})
	if err != nil {
		return nil, err
	}
	return found, nil
}

// winners reads the winners among users, or every winner of the activity
// when users is nil, without confirming them.
func (s *Sales) winners(ctx context.Context, conn db.Conn, id int64, users []int64) (_ map[int64]uuid.UUID, err error) {
	var rows pgx.Rows
	if users == nil {
		rows, err = conn.Query(ctx, `SELECT user_id, `+heldOrder+` FROM activity.winners WHERE activity_id = $1`, id)
	} else {
		rows, err = conn.Query(ctx, winnersAmong, id, users)
	}
	if err != nil {
		return nil, db.Map(err, "winners")
	}
	defer rows.Close()
	out := map[int64]uuid.UUID{}
	for rows.Next() {
		var u int64
		var o uuid.UUID
		if err := rows.Scan(&u, &o); err != nil {
			return nil, db.Map(err, "winners")
		}
		out[u] = o
	}
	return out, db.Map(rows.Err(), "winners")
}

// Outcome returns user's persisted result in activity id, confirmed
// replicated (db.ConfirmReplicated): a buyer told "won" here keeps the win
// through a failover.
func (s *Sales) Outcome(ctx context.Context, id, user int64) (_ Outcome, err error) {
	defer errs.Annotate(&err, "Sales.Outcome(%d, %d)", id, user)
	// A user without a win is told what a purchase would answer now, by
	// the database's clock as the commit decides it: not_started, ended,
	// sold_out, or open while units remain.
	const q = `SELECT w.order_id, w.settled,
			CASE WHEN clock_timestamp() < a.start_time THEN 'not_started'
				WHEN clock_timestamp() >= a.end_time THEN 'ended'
				WHEN a.remaining = 0 THEN 'sold_out'
				ELSE 'open' END
		FROM activity.activities a
		LEFT JOIN activity.winners w ON w.activity_id = a.id AND w.user_id = $2
		WHERE a.id = $1`
	var oid *uuid.UUID
	var settled *string
	var open string
	err = db.ReadConfirmed(ctx, s.pool, func(conn db.Conn) error {
		return db.Map(conn.QueryRow(ctx, q, id, user).Scan(&oid, &settled, &open), fmt.Sprintf("activity %d", id))
	})
	if err != nil {
		return Outcome{}, err
	}
	o := Outcome{ActivityID: id, UserID: user, Status: open}
	switch {
	case oid == nil:
	case settled != nil && (*settled == SettledCancelled || *settled == SettledExpired):
		o.Status = string(seckill.Forfeited)
	default:
		o.Won, o.Status, o.OrderID = true, string(seckill.Won), oid.String()
	}
	return o, nil
}
