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
	"github.com/seckill/seckill/internal/platform/money"
	"github.com/seckill/seckill/internal/seckill"
)

// Store reads and writes the activity schema. It is also the seckill
// engine's Store: the database side of every purchase.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a Store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

const activityColumns = `id, name, product_id, (price * 100)::bigint, stock, remaining, start_time, end_time, created_at, updated_at`

func scanActivity(row pgx.Row) (Activity, error) {
	var a Activity
	err := row.Scan(&a.ID, &a.Name, &a.ProductID, &a.Price, &a.Stock, &a.Remaining, &a.StartTime, &a.EndTime,
		&a.CreatedAt, &a.UpdatedAt)
	return a, err
}

// Create inserts an activity and, in the same transaction, runs reserve
// with its id; the row is committed only if reserve succeeds, so an activity
// never exists without its inventory.
func (s *Store) Create(ctx context.Context, in CreateRequest, price money.Cents, reserve func(id int64) error) (Activity, error) {
	var a Activity
	err := db.Transact(ctx, s.pool, func(tx pgx.Tx) error {
		const q = `INSERT INTO activity.activities (name, product_id, price, stock, remaining, start_time, end_time)
			VALUES ($1, $2, $3::bigint::numeric / 100, $4, $4, $5, $6) RETURNING ` + activityColumns
		var err error
		a, err = scanActivity(tx.QueryRow(ctx, q, in.Name, in.ProductID, int64(price), in.Stock, in.StartTime, in.EndTime))
		if err != nil {
			return db.Map(err, "activity")
		}
		return reserve(a.ID)
	})
	return a, err
}

// Get returns activity id.
func (s *Store) Get(ctx context.Context, id int64) (Activity, error) {
	const q = `SELECT ` + activityColumns + ` FROM activity.activities WHERE id = $1`
	a, err := scanActivity(s.pool.QueryRow(ctx, q, id))
	if err != nil {
		return Activity{}, db.Map(err, fmt.Sprintf("activity %d", id))
	}
	return a, nil
}

// List returns one page of activities and the total count.
func (s *Store) List(ctx context.Context, limit, offset int) ([]Activity, int64, error) {
	const q = `SELECT ` + activityColumns + ` FROM activity.activities ORDER BY id LIMIT $1 OFFSET $2`
	rows, err := s.pool.Query(ctx, q, limit, offset)
	if err != nil {
		return nil, 0, db.Map(err, "activities")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Activity, error) { return scanActivity(r) })
	if err != nil {
		return nil, 0, db.Map(err, "activities")
	}
	var total int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM activity.activities`).Scan(&total); err != nil {
		return nil, 0, db.Map(err, "activities")
	}
	return out, total, nil
}

// Update applies change to activity id inside a transaction that holds the
// row's lock; change sees the current row, may call other services, and
// returns the row to write. Its Remaining is not written: the stock it sold
// is the database's to count.
func (s *Store) Update(ctx context.Context, id int64, change func(cur Activity) (Activity, error)) (Activity, error) {
	var a Activity
	err := db.Transact(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := scanActivity(tx.QueryRow(ctx, `SELECT `+activityColumns+` FROM activity.activities WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return db.Map(err, fmt.Sprintf("activity %d", id))
		}
		next, err := change(cur)
		if err != nil {
			return err
		}
		// remaining moves only by the change in stock: an edit never
		// gives back what was sold. (change refuses a new stock once
		// anything was sold, so a new stock means remaining = stock.)
		const q = `UPDATE activity.activities SET name = $2, product_id = $3, price = $4::bigint::numeric / 100,
				remaining = remaining + ($5 - stock), stock = $5, start_time = $6, end_time = $7, updated_at = now()
			WHERE id = $1 RETURNING ` + activityColumns
		a, err = scanActivity(tx.QueryRow(ctx, q, id, next.Name, next.ProductID, int64(next.Price), next.Stock,
			next.StartTime, next.EndTime))
		return db.Map(err, fmt.Sprintf("activity %d", id))
	})
	return a, err
}

// Delete removes activity id when nothing was sold, running release before
// the commit so that the inventory goes back exactly when the row goes.
func (s *Store) Delete(ctx context.Context, id int64, release func(a Activity) error) error {
	return db.Transact(ctx, s.pool, func(tx pgx.Tx) error {
		a, err := scanActivity(tx.QueryRow(ctx, `SELECT `+activityColumns+` FROM activity.activities WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return db.Map(err, fmt.Sprintf("activity %d", id))
		}
		var winners int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM activity.winners WHERE activity_id = $1`, id).Scan(&winners); err != nil {
			return db.Map(err, "winners")
		}
		if winners > 0 || a.Remaining != a.Stock {
			return errs.E(errs.Conflict, "activity %d has sold %d units and cannot be deleted", id, a.Stock-a.Remaining)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM activity.activities WHERE id = $1`, id); err != nil {
			return db.Map(err, fmt.Sprintf("activity %d", id))
		}
		return release(a)
	})
}

// Stats returns the committed progress of activity id.
func (s *Store) Stats(ctx context.Context, id int64) (Stats, error) {
	const q = `SELECT a.stock, a.remaining,
			(SELECT count(*) FROM activity.winners w WHERE w.activity_id = a.id AND w.delivered_at IS NULL AND w.delivery_error IS NULL),
			(SELECT count(*) FROM activity.winners w WHERE w.activity_id = a.id AND w.delivery_error IS NOT NULL)
		FROM activity.activities a WHERE a.id = $1`
	st := Stats{ActivityID: id}
	if err := s.pool.QueryRow(ctx, q, id).Scan(&st.Stock, &st.Remaining, &st.Undelivered, &st.Failed); err != nil {
		return Stats{}, db.Map(err, fmt.Sprintf("activity %d", id))
	}
	st.Sold = st.Stock - st.Remaining
	return st, nil
}

// Outcome returns user's persisted result in activity id.
func (s *Store) Outcome(ctx context.Context, id, user int64) (Outcome, error) {
	const q = `SELECT w.order_id FROM activity.activities a
		LEFT JOIN activity.winners w ON w.activity_id = a.id AND w.user_id = $2
		WHERE a.id = $1`
	var oid *uuid.UUID
	if err := s.pool.QueryRow(ctx, q, id, user).Scan(&oid); err != nil {
		return Outcome{}, db.Map(err, fmt.Sprintf("activity %d", id))
	}
	o := Outcome{ActivityID: id, UserID: user, Won: oid != nil}
	if oid != nil {
		o.OrderID = oid.String()
	}
	return o, nil
}

// Snapshot implements seckill.Store.
func (s *Store) Snapshot(ctx context.Context, id int64) (seckill.Snapshot, error) {
	a, err := s.Get(ctx, id)
	if err != nil {
		return seckill.Snapshot{}, err
	}
	winners, err := s.Resolve(ctx, id, nil)
	if err != nil {
		return seckill.Snapshot{}, err
	}
	return seckill.Snapshot{
		Activity: seckill.Activity{ID: a.ID, Stock: a.Stock, Remaining: a.Remaining, StartTime: a.StartTime, EndTime: a.EndTime},
		Winners:  winners,
	}, nil
}

// winnersAmong reads which of the users $2 won activity $1, one primary-key
// probe per user. The plain form, user_id = ANY($2), lets the planner scan
// every winner of the activity instead, and during a sale it does: the
// activity is new, so the statistics say it has almost no winners. Each
// commit then read all the wins before it, a cost that grew with the sale.
// LIMIT keeps the lateral subquery from being flattened into a join the
// planner could turn into that same scan.
const winnersAmong = `SELECT u.id, w.order_id FROM unnest($2::bigint[]) AS u(id)
	CROSS JOIN LATERAL (SELECT order_id FROM activity.winners WHERE activity_id = $1 AND user_id = u.id LIMIT 1) w`

// Commit implements seckill.Store: one transaction decides every claim.
// Locking the activity row first serialises commits of one activity across
// all instances; the winners read after the lock therefore sees every win
// committed before, and the conditional update is the last word on stock.
//
// The transaction takes two round trips, not the four of Begin, two batches
// and Commit: the opening batch carries BEGIN, the closing one COMMIT. Under
// a sale every round trip waits for a busy CPU on each side, and winners
// wait for the whole transaction.
func (s *Store) Commit(ctx context.Context, id int64, claims []seckill.Claim) (outs []seckill.Outcome, remaining int64, err error) {
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
	b.Queue(winnersAmong, id, users)
	existing, err := readLockedState(conn.SendBatch(ctx, b), id, &remaining)
	if err != nil {
		return nil, 0, err
	}

	outs = make([]seckill.Outcome, len(claims))
	winUsers := make([]int64, 0, min(int64(len(claims)), remaining))
	winOrders := make([]uuid.UUID, 0, cap(winUsers))
	for i, c := range claims {
		if o, ok := existing[c.UserID]; ok {
			outs[i] = seckill.Outcome{Status: seckill.AlreadyWon, OrderID: o}
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

// readLockedState reads the results of Commit's opening batch: the
// activity's remaining stock into *remaining and the batch's users who
// already won.
func readLockedState(br pgx.BatchResults, id int64, remaining *int64) (existing map[int64]uuid.UUID, err error) {
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
func (s *Store) Resolve(ctx context.Context, id int64, users []int64) (map[int64]uuid.UUID, error) {
	var rows pgx.Rows
	var err error
	if users == nil {
		rows, err = s.pool.Query(ctx, `SELECT user_id, order_id FROM activity.winners WHERE activity_id = $1`, id)
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
func (s *Store) Undelivered(ctx context.Context, limit int) ([]Delivery, error) {
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
func (s *Store) MarkDelivered(ctx context.Context, orderIDs []uuid.UUID) error {
	if len(orderIDs) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `UPDATE activity.winners SET delivered_at = now()
		WHERE order_id = ANY($1) AND delivered_at IS NULL`, orderIDs)
	return db.Map(err, "winners")
}

// MarkFailed records that the order service refused an order for good.
func (s *Store) MarkFailed(ctx context.Context, orderID uuid.UUID, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE activity.winners SET delivery_error = $2 WHERE order_id = $1`, orderID, reason)
	return db.Map(err, "winners")
}

// Backlog counts the committed wins awaiting delivery, in every activity.
func (s *Store) Backlog(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM activity.winners WHERE delivered_at IS NULL AND delivery_error IS NULL`).Scan(&n)
	return n, db.Map(err, "winners")
}
