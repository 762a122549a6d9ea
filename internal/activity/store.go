package activity

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seckill/seckill/internal/platform/db"
	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/platform/money"
)

// Store reads and writes the activities table. Each write is one statement
// that commits on its own: the Catalog calls the product service between
// them, never while a transaction or a row lock is open.
type Store struct {
	pool *pgxpool.Pool

	mu     sync.Mutex
	counts map[int64]outboxCounts // by activity, for Stats
}

// outboxCounts are an activity's undelivered and failed wins, as counted at,
// when sold units had been sold.
type outboxCounts struct {
	at                  time.Time
	sold                int64
	undelivered, failed int64
}

// countsMaxAge is how old the outbox counts Stats answers may be. Counting
// undelivered wins visits each of them, and while a large sale runs the
// relay holds back, so there may be a hundred thousand: a client watching
// the sale through its stats every 20 ms had the database spend more on
// counting than on selling.
const countsMaxAge = time.Second

// NewStore returns a Store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool, counts: map[int64]outboxCounts{}} }

const activityColumns = `id, name, product_id, (price * 100)::bigint, stock, remaining, released, closed_at IS NOT NULL,
	start_time, end_time, created_at, updated_at`

func scanActivity(row pgx.Row) (Activity, error) {
	var a Activity
	err := row.Scan(&a.ID, &a.Name, &a.ProductID, &a.Price, &a.Stock, &a.Remaining, &a.Released, &a.Closed, &a.StartTime,
		&a.EndTime, &a.CreatedAt, &a.UpdatedAt)
	return a, err
}

// errChanged is returned by update and delete when the row is no longer
// the one the caller read: another edit (or, for a delete, a sale) landed
// in between.
var errChanged = errs.E(errs.Conflict, "the activity was changed by another request; retry")

// nextID takes an activity id from the table's identity sequence, so that
// the product service can reserve for the activity before its row exists.
func (s *Store) nextID(ctx context.Context) (_ int64, err error) {
	defer errs.Annotate(&err, "Store.nextID")
	var id int64
	err = s.pool.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('activity.activities', 'id'))`).Scan(&id)
	return id, db.Map(err, "activity id")
}

// insert writes a new activity with the id nextID gave.
func (s *Store) insert(ctx context.Context, id int64, in CreateRequest, price money.Cents) (_ Activity, err error) {
	defer errs.Annotate(&err, "Store.insert(%d)", id)
	const q = `INSERT INTO activity.activities (id, name, product_id, price, stock, remaining, start_time, end_time)
		OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4::bigint::numeric / 100, $5, $5, $6, $7) RETURNING ` + activityColumns
	a, err := scanActivity(s.pool.QueryRow(ctx, q, id, in.Name, in.ProductID, int64(price), in.Stock, in.StartTime, in.EndTime))
	return a, db.Map(err, "activity")
}

// Get returns activity id.
func (s *Store) Get(ctx context.Context, id int64) (_ Activity, err error) {
	defer errs.Annotate(&err, "Store.Get(%d)", id)
	const q = `SELECT ` + activityColumns + ` FROM activity.activities WHERE id = $1`
	a, err := scanActivity(s.pool.QueryRow(ctx, q, id))
	if err != nil {
		return Activity{}, db.Map(err, fmt.Sprintf("activity %d", id))
	}
	return a, nil
}

// List returns one page of activities and the total count.
func (s *Store) List(ctx context.Context, limit, offset int) (_ []Activity, _ int64, err error) {
	defer errs.Annotate(&err, "Store.List(%d, %d)", limit, offset)
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

// update writes next over cur only if the row still holds cur's editable
// fields (compare and swap), and, when the edit moves stock, product or
// start, only if nothing was sold. It compares the fields an edit writes,
// not updated_at, which every purchase bumps: a rename during a sale does
// not race with the sale. Its Remaining is not written: remaining moves only
// by the change in stock, so an edit never gives back what was sold.
func (s *Store) update(ctx context.Context, cur, next Activity) (_ Activity, err error) {
	defer errs.Annotate(&err, "Store.update(%d)", cur.ID)
	const q = `UPDATE activity.activities SET name = $2, product_id = $3, price = $4::bigint::numeric / 100,
			remaining = remaining + ($5 - stock), stock = $5, start_time = $6, end_time = $7, updated_at = now()
		WHERE id = $1 AND (name, product_id, (price * 100)::bigint, stock, start_time, end_time) = ($8, $9, $10, $11, $12, $13)
			AND (NOT $14 OR remaining = stock) AND (closed_at IS NULL OR end_time = $7)
		RETURNING ` + activityColumns
	a, err := scanActivity(s.pool.QueryRow(ctx, q, cur.ID, next.Name, next.ProductID, int64(next.Price), next.Stock,
		next.StartTime, next.EndTime, cur.Name, cur.ProductID, int64(cur.Price), cur.Stock, cur.StartTime, cur.EndTime,
		movesFrozen(cur, next)))
	if err == pgx.ErrNoRows {
		return Activity{}, s.whyUnchanged(ctx, cur.ID)
	}
	return a, db.Map(err, fmt.Sprintf("activity %d", cur.ID))
}

// delete removes cur only if the row still holds cur's editable fields and
// nothing was sold.
func (s *Store) delete(ctx context.Context, cur Activity) (err error) {
	defer errs.Annotate(&err, "Store.delete(%d)", cur.ID)
	// An activity whose end gave every unit back (remaining + released)
	// sold nothing either.
	const q = `DELETE FROM activity.activities
		WHERE id = $1 AND (name, product_id, stock, start_time, end_time) = ($2, $3, $4, $5, $6) AND remaining + released = stock
			AND NOT EXISTS (SELECT 1 FROM activity.winners WHERE activity_id = $1)`
	tag, err := s.pool.Exec(ctx, q, cur.ID, cur.Name, cur.ProductID, cur.Stock, cur.StartTime, cur.EndTime)
	if err != nil {
		return db.Map(err, fmt.Sprintf("activity %d", cur.ID))
	}
	if tag.RowsAffected() == 0 {
		// Units given back by cancelled or expired orders leave the stock
		// whole, but their wins stay: the activity keeps them.
		var winners bool
		q := `SELECT EXISTS (SELECT 1 FROM activity.winners WHERE activity_id = $1)`
		if err := s.pool.QueryRow(ctx, q, cur.ID).Scan(&winners); err == nil && winners {
			return errs.E(errs.Conflict, "activity %d has winners and cannot be deleted", cur.ID)
		}
		return s.whyUnchanged(ctx, cur.ID)
	}
	s.mu.Lock()
	delete(s.counts, cur.ID)
	s.mu.Unlock()
	return nil
}

// whyUnchanged tells why a conditional write matched no row: the activity
// is gone, or it changed.
func (s *Store) whyUnchanged(ctx context.Context, id int64) error {
	if _, err := s.Get(ctx, id); err != nil {
		return err
	}
	return errChanged
}

// Stats returns the committed progress of activity id.
func (s *Store) Stats(ctx context.Context, id int64) (_ Stats, err error) {
	defer errs.Annotate(&err, "Store.Stats(%d)", id)
	const q = `SELECT stock, remaining, paid, returned, released, closed_at IS NOT NULL FROM activity.activities WHERE id = $1`
	st := Stats{ActivityID: id}
	if err := s.pool.QueryRow(ctx, q, id).Scan(&st.Stock, &st.Remaining, &st.Paid, &st.Returned, &st.Released, &st.Closed); err != nil {
		return Stats{}, db.Map(err, fmt.Sprintf("activity %d", id))
	}
	st.Sold = st.Stock - st.Remaining - st.Released
	c, err := s.outboxCounts(ctx, id, st.Sold)
	if err != nil {
		return Stats{}, err
	}
	st.Undelivered, st.Failed = c.undelivered, c.failed
	return st, nil
}

// outboxCounts returns activity id's undelivered and failed wins, counted
// at most countsMaxAge ago, when sold units are sold now. A count from
// before is given the units sold since as undelivered: a win is
// undelivered when committed, and only the relay makes it less. So the
// answer is an upper bound, never lower than the truth, and 0 only when no
// order is left to deliver: a client waiting for the orders (the bench,
// an operator) may trust it, as it could not trust a count of zero read
// just before the stock sold.
func (s *Store) outboxCounts(ctx context.Context, id, sold int64) (outboxCounts, error) {
	now := time.Now()
	s.mu.Lock()
	c, ok := s.counts[id]
	s.mu.Unlock()
	if ok && now.Sub(c.at) < countsMaxAge {
		c.undelivered += max(0, sold-c.sold)
		return c, nil
	}
	const q = `SELECT
		(SELECT count(*) FROM activity.winners WHERE activity_id = $1 AND delivered_at IS NULL AND delivery_error IS NULL),
		(SELECT count(*) FROM activity.winners WHERE activity_id = $1 AND delivery_error IS NOT NULL)`
	// sold was read before the count: wins committed in between are
	// counted here and again as sold since, an overcount that the next
	// count corrects.
	c = outboxCounts{at: now, sold: sold}
	if err := s.pool.QueryRow(ctx, q, id).Scan(&c.undelivered, &c.failed); err != nil {
		return outboxCounts{}, db.Map(err, "winners")
	}
	s.mu.Lock()
	s.counts[id] = c
	s.mu.Unlock()
	return c, nil
}
