package activity

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
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

// Snapshot implements seckill.Store.
func (s *Sales) Snapshot(ctx context.Context, id int64) (_ seckill.Snapshot, err error) {
	defer errs.Annotate(&err, "Sales.Snapshot(%d)", id)
	const q = `SELECT stock, remaining, start_time, end_time FROM activity.activities WHERE id = $1`
	a := seckill.Activity{ID: id}
	if err := s.pool.QueryRow(ctx, q, id).Scan(&a.Stock, &a.Remaining, &a.StartTime, &a.EndTime); err != nil {
		return seckill.Snapshot{}, db.Map(err, fmt.Sprintf("activity %d", id))
	}
	winners, err := s.Resolve(ctx, id, nil)
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

// Commit implements seckill.Store: one transaction decides every claim.
// Locking the activity row first serialises commits of one activity across
// all instances; the winners read after the lock therefore sees every win
// committed before, and the conditional update is the last word on stock.
//
// The sale window is the database's too: read after the lock, so an edit
// of start_time or end_time committed on any instance is seen, and compared
// with the database's clock at that moment, so every instance agrees on
// when the sale is open. Claims outside [start_time, end_time) are answered
// not_started or ended, and nothing is written.
//
// The transaction takes two round trips, not the four of Begin, two batches
// and Commit: the opening batch carries BEGIN, the closing one COMMIT. Under
// a sale every round trip waits for a busy CPU on each side, and winners
// wait for the whole transaction.
func (s *Sales) Commit(ctx context.Context, id int64, claims []seckill.Claim) (outs []seckill.Outcome, remaining int64, err error) {
	defer errs.Annotate(&err, "Sales.Commit(%d, %d claims)", id, len(claims))
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, 0, db.Map(fmt.Errorf("acquire: %w", err), "transaction")
	}
	defer func() {
		// A failure inside a batch leaves the transaction open (aborted
		// or not): end it before the connection goes back to the pool,
		// or close it. The pool also refuses a connection left in a
		// transaction.
		if pc := conn.Conn().PgConn(); !pc.IsClosed() && pc.TxStatus() != 'I' {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if _, rerr := conn.Exec(rctx, "ROLLBACK"); rerr != nil {
				_ = conn.Conn().Close(rctx)
			}
			cancel()
		}
		conn.Release()
	}()

	users := make([]int64, len(claims))
	for i, c := range claims {
		users[i] = c.UserID
	}
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`SELECT remaining FROM activity.activities WHERE id = $1 FOR UPDATE`, id)
	// A statement of its own, run once the lock is held: clock_timestamp()
	// is the time it runs, after any edit that committed before the lock.
	b.Queue(`SELECT clock_timestamp() < start_time, clock_timestamp() >= end_time FROM activity.activities WHERE id = $1`, id)
	b.Queue(winnersAmong, id, users)
	var w window
	existing, err := readLockedState(conn.SendBatch(ctx, b), id, &remaining, &w)
	if err != nil {
		return nil, 0, err
	}

	outs = make([]seckill.Outcome, len(claims))
	if w.notStarted || w.ended {
		closed := seckill.Ended
		if w.notStarted {
			closed = seckill.NotStarted
		}
		for i, c := range claims {
			if o, ok := existing[c.UserID]; ok {
				outs[i] = held(o)
			} else {
				outs[i] = seckill.Outcome{Status: closed}
			}
		}
		// Nothing was written: the answers stand whatever ending the
		// transaction does (the deferred clean-up closes a connection
		// that cannot).
		_, _ = conn.Exec(ctx, `ROLLBACK`)
		return outs, remaining, nil
	}
	winUsers := make([]int64, 0, min(int64(len(claims)), remaining))
	winOrders := make([]uuid.UUID, 0, cap(winUsers))
	for i, c := range claims {
		if o, ok := existing[c.UserID]; ok {
			outs[i] = held(o)
			continue
		}
		if int64(len(winUsers)) >= remaining {
			outs[i] = seckill.Outcome{Status: seckill.SoldOut}
			continue
		}
		existing[c.UserID] = c.OrderID // a user twice in one batch wins once
		winUsers = append(winUsers, c.UserID)
		winOrders = append(winOrders, c.OrderID)
		outs[i] = seckill.Outcome{Status: seckill.Won, OrderID: c.OrderID}
	}

	n := int64(len(winUsers))
	b = &pgx.Batch{}
	if n > 0 {
		// The insert takes its rows from the conditional update's, so the
		// winners are written only if the stock was decremented: never
		// one without the other, even if the lock were not held.
		b.Queue(`WITH sold AS (
				UPDATE activity.activities SET remaining = remaining - $2, updated_at = now()
				WHERE id = $1 AND remaining >= $2 RETURNING id)
			INSERT INTO activity.winners (activity_id, user_id, order_id)
			SELECT sold.id, t.u, t.o FROM sold, unnest($3::bigint[], $4::uuid[]) AS t(u, o)`, id, n, winUsers, winOrders)
	}
	b.Queue(`COMMIT`)
	br := conn.SendBatch(ctx, b)
	var inserted int64
	if n > 0 {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return nil, 0, db.Map(err, "winners")
		}
		inserted = tag.RowsAffected()
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, 0, db.Map(fmt.Errorf("commit: %w", err), "transaction")
	}
	if tag.String() != "COMMIT" {
		return nil, 0, fmt.Errorf("commit: the transaction was rolled back (%s)", tag)
	}
	if inserted != n {
		// Impossible while the row lock is held; what was committed is
		// an empty transaction, and nothing was sold.
		return nil, 0, fmt.Errorf("conditional stock update matched no row: %d of %d winners written", inserted, n)
	}
	return outs, remaining - n, nil
}

// window is where the database's clock stands in an activity's sale window.
type window struct{ notStarted, ended bool }

// held answers a claim of a user who won before: already won with the
// order id, or forfeited when heldOrder says the unit was given back.
func held(orderID uuid.UUID) seckill.Outcome {
	if orderID == uuid.Nil {
		return seckill.Outcome{Status: seckill.Forfeited}
	}
	return seckill.Outcome{Status: seckill.AlreadyWon, OrderID: orderID}
}

// readLockedState reads the results of Commit's opening batch: the
// activity's remaining stock into *remaining, its window into *w, and the
// batch's users who already won.
func readLockedState(br pgx.BatchResults, id int64, remaining *int64, w *window) (existing map[int64]uuid.UUID, err error) {
	defer func() {
		if cerr := br.Close(); err == nil && cerr != nil {
			err = db.Map(cerr, "winners")
		}
	}()
	if _, err := br.Exec(); err != nil {
		return nil, db.Map(fmt.Errorf("begin: %w", err), "transaction")
	}
	if err := br.QueryRow().Scan(remaining); err != nil {
		return nil, db.Map(err, fmt.Sprintf("activity %d", id))
	}
	if err := br.QueryRow().Scan(&w.notStarted, &w.ended); err != nil {
		return nil, db.Map(err, fmt.Sprintf("activity %d", id))
	}
	rows, err := br.Query()
	if err != nil {
		return nil, db.Map(err, "winners")
	}
	existing = map[int64]uuid.UUID{}
	for rows.Next() {
		var u int64
		var o uuid.UUID
		if err := rows.Scan(&u, &o); err != nil {
			rows.Close()
			return nil, db.Map(err, "winners")
		}
		existing[u] = o
	}
	rows.Close()
	return existing, db.Map(rows.Err(), "winners")
}

// Resolve implements seckill.Store: the winners among users, or every
// winner of the activity when users is nil.
func (s *Sales) Resolve(ctx context.Context, id int64, users []int64) (_ map[int64]uuid.UUID, err error) {
	defer errs.Annotate(&err, "Sales.Resolve(%d, %d users)", id, len(users))
	var rows pgx.Rows
	if users == nil {
		rows, err = s.pool.Query(ctx, `SELECT user_id, `+heldOrder+` FROM activity.winners WHERE activity_id = $1`, id)
	} else {
		rows, err = s.pool.Query(ctx, winnersAmong, id, users)
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

// Outcome returns user's persisted result in activity id.
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
	if err := s.pool.QueryRow(ctx, q, id, user).Scan(&oid, &settled, &open); err != nil {
		return Outcome{}, db.Map(err, fmt.Sprintf("activity %d", id))
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
