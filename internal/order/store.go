package order

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seckill/seckill/internal/platform/db"
	"github.com/seckill/seckill/internal/platform/errs"
)

// Store reads and writes orders in the orders schema.
type Store struct {
	pool *pgxpool.Pool
	opt  StoreOptions
}

// StoreOptions tune a Store.
type StoreOptions struct {
	// PayTimeout is how long a new order may stay unpaid (default 15m).
	PayTimeout time.Duration
	// OnSettle, when set, is called after a commit that moved n orders
	// to the final status: paid, cancelled or expired. Metrics count
	// them; the settlement relay wakes up.
	OnSettle func(status string, n int)
}

// NewStore returns a Store on pool.
func NewStore(pool *pgxpool.Pool, opt StoreOptions) *Store {
	if opt.PayTimeout <= 0 {
		opt.PayTimeout = 15 * time.Minute
	}
	if opt.OnSettle == nil {
		opt.OnSettle = func(string, int) {}
	}
	return &Store{pool: pool, opt: opt}
}

const orderColumns = `id, user_id, activity_id, product_id, quantity, (price * 100)::bigint, status, pay_by, created_at, updated_at`

func scanOrder(row pgx.Row) (Order, error) {
	var o Order
	err := row.Scan(&o.ID, &o.UserID, &o.ActivityID, &o.ProductID, &o.Quantity, &o.Price, &o.Status, &o.PayBy,
		&o.CreatedAt, &o.UpdatedAt)
	return o, err
}

// insertOrders inserts every order that conflicts with no existing one, on
// either the id or the (user, activity) pair, and returns the ids inserted.
// Concurrent inserts of the same order wait for each other and then skip.
// The payment deadline $7 (microseconds) runs from the order's creation
// here, so an order that reached this service late still gets all of it.
const insertOrders = `INSERT INTO orders.orders (id, user_id, activity_id, product_id, quantity, price, pay_by)
	SELECT id, u, a, p, q, c::numeric / 100, now() + $7::bigint * interval '1 microsecond'
	FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::int[], $6::bigint[]) AS t(id, u, a, p, q, c)
	ON CONFLICT DO NOTHING
	RETURNING id`

// storedOrders reads the recorded orders that share an id or a (user,
// activity) pair with the orders $1, $2, $3: two key probes per order. The
// plain form, id = ANY($1) OR (user_id, activity_id) IN (…), cannot use
// either index through the OR and read the whole table on every batch the
// relay delivers.
const storedOrders = `SELECT o.* FROM unnest($1::uuid[], $2::bigint[], $3::bigint[]) AS t(id, u, a)
	CROSS JOIN LATERAL (
		SELECT ` + orderColumns + ` FROM orders.orders WHERE id = t.id
		UNION
		SELECT ` + orderColumns + ` FROM orders.orders WHERE user_id = t.u AND activity_id = t.a
	) o`

// CreateBatch records orders in one transaction. An order already recorded
// with the same content is "existing"; one that contradicts a recorded
// order (same id with other content, or another order for the same user
// and activity) is a "conflict" and changes nothing. One order's conflict
// never fails the others.
func (s *Store) CreateBatch(ctx context.Context, in []CreateRequest) (_ BatchResult, err error) {
	defer errs.Annotate(&err, "Store.CreateBatch(%d orders)", len(in))
	n := len(in)
	ids, users, acts, prods := make([]uuid.UUID, n), make([]int64, n), make([]int64, n), make([]int64, n)
	qtys, prices := make([]int32, n), make([]int64, n)
	for i, o := range in {
		ids[i], users[i], acts[i], prods[i], qtys[i], prices[i] = o.ID, o.UserID, o.ActivityID, o.ProductID, int32(o.Quantity), int64(*o.Price)
	}
	var res BatchResult
	err = db.Transact(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, insertOrders, ids, users, acts, prods, qtys, prices, s.opt.PayTimeout.Microseconds())
		if err != nil {
			return db.Map(err, "orders")
		}
		created, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return db.Map(err, "orders")
		}
		fresh := make(map[uuid.UUID]bool, len(created))
		for _, id := range created {
			fresh[id] = true
		}
		rows, err = tx.Query(ctx, storedOrders, ids, users, acts)
		if err != nil {
			return db.Map(err, "orders")
		}
		stored, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Order, error) { return scanOrder(r) })
		if err != nil {
			return db.Map(err, "orders")
		}
		byID := make(map[uuid.UUID]Order, len(stored))
		type pair struct{ user, activity int64 }
		byPair := make(map[pair]Order, len(stored))
		for _, o := range stored {
			byID[o.ID] = o
			byPair[pair{o.UserID, o.ActivityID}] = o
		}
		res.Results = make([]BatchItem, n)
		for i, o := range in {
			item := BatchItem{ID: o.ID}
			switch cur, ok := byID[o.ID]; {
			case fresh[o.ID]:
				item.Status = ResultCreated
				delete(fresh, o.ID) // a repeat later in the batch is "existing"
				res.Created++
			case ok && o.same(cur):
				item.Status = ResultExisting
				res.Existing++
			case ok:
				item.Status, item.Message = ResultConflict, fmt.Sprintf("order %s exists with other content", o.ID)
				res.Conflicts++
			default:
				other := byPair[pair{o.UserID, o.ActivityID}]
				item.Status = ResultConflict
				item.Message = fmt.Sprintf("user %d already has order %s in activity %d", o.UserID, other.ID, o.ActivityID)
				res.Conflicts++
			}
			res.Results[i] = item
		}
		return nil
	})
	return res, err
}

// Create records one order. created reports whether it is new; asking again
// for the same order returns it unchanged.
func (s *Store) Create(ctx context.Context, in CreateRequest) (o Order, created bool, err error) {
	defer errs.Annotate(&err, "Store.Create(%s)", in.ID)
	res, err := s.CreateBatch(ctx, []CreateRequest{in})
	if err != nil {
		return Order{}, false, err
	}
	item := res.Results[0]
	if item.Status == ResultConflict {
		return Order{}, false, errs.E(errs.Conflict, "%s", item.Message)
	}
	o, err = s.Get(ctx, in.ID)
	return o, item.Status == ResultCreated, err
}

// Get returns order id, confirmed replicated (db.ConfirmReplicated): a
// buyer who reads "paid" here acts on it, and a payment whose commit
// wait for the standby was cancelled is visible on the leader though a
// failover would lose it. The confirmation costs a WAL flush, which the
// order service's reads, one per buyer action, can afford.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (_ Order, err error) {
	defer errs.Annotate(&err, "Store.Get(%s)", id)
	var o Order
	err = db.ReadConfirmed(ctx, s.pool, func(conn db.Conn) (err error) {
		o, err = scanOrder(conn.QueryRow(ctx, `SELECT `+orderColumns+` FROM orders.orders WHERE id = $1`, id))
		return db.Map(err, fmt.Sprintf("order %s", id))
	})
	if err != nil {
		return Order{}, err
	}
	return o, nil
}

// Filter narrows a list of orders; zero fields do not filter.
type Filter struct {
	UserID, ActivityID int64
	Limit, Offset      int
}

// List returns one page of the orders that match f, oldest first, and how
// many match in all, confirmed replicated as Get's answer is.
func (s *Store) List(ctx context.Context, f Filter) (_ []Order, _ int64, err error) {
	defer errs.Annotate(&err, "Store.List(%+v)", f)
	const where = ` WHERE ($1::bigint = 0 OR user_id = $1) AND ($2::bigint = 0 OR activity_id = $2)`
	const q = `SELECT ` + orderColumns + ` FROM orders.orders` + where + ` ORDER BY created_at, id LIMIT $3 OFFSET $4`
	var out []Order
	var total int64
	err = db.ReadConfirmed(ctx, s.pool, func(conn db.Conn) error {
		rows, err := conn.Query(ctx, q, f.UserID, f.ActivityID, f.Limit, f.Offset)
		if err != nil {
			return db.Map(err, "orders")
		}
		if out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Order, error) { return scanOrder(r) }); err != nil {
			return db.Map(err, "orders")
		}
		return db.Map(conn.QueryRow(ctx, `SELECT count(*) FROM orders.orders`+where, f.UserID, f.ActivityID).Scan(&total), "orders")
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// Pay marks order id paid for its buyer user. Paying a paid order again
// answers it unchanged; a cancelled or expired order cannot be paid, and
// an order past its pay_by expires instead (Conflict either way). When the
// payment's commit got no answer, the outcome is read back; if that fails
// too, the error is ErrOutcomeUnknown (Unavailable), and paying again
// tells what happened.
func (s *Store) Pay(ctx context.Context, id uuid.UUID, user int64) (Order, error) {
	return s.settle(ctx, id, user, StatusPaid)
}

// Cancel marks order id cancelled for its buyer user, which gives its unit
// back. Cancelling a cancelled order again answers it unchanged; a paid or
// expired order cannot be cancelled, and an order past its pay_by expires
// instead (Conflict either way). An unknown outcome is handled as Pay's.
func (s *Store) Cancel(ctx context.Context, id uuid.UUID, user int64) (Order, error) {
	return s.settle(ctx, id, user, StatusCancelled)
}

// ErrOutcomeUnknown is in the chain of Pay's and Cancel's error when the
// commit got no answer and reading the order back did not tell whether it
// happened: the caller must say so (503), never guess. Repeating the
// request is safe and answers the order as it is. Match it with errors.Is.
var ErrOutcomeUnknown error = errs.E(errs.Unavailable,
	"the outcome is unknown: the database did not confirm the change in time; repeat the request to learn what happened")

// readBackTime is what a pay or cancel keeps of its deadline to read the
// order back after a commit that got no answer.
const readBackTime = 2 * time.Second

// errNothingToWrite ends settle's transaction when the answer is the order
// as it is: the row lock is not needed any more.
var errNothingToWrite = errors.New("nothing to write")

// settle moves order id from created to status to on behalf of user. The
// row lock orders it with the sweeper, which skips locked rows, and with
// the buyer's other requests.
//
// Every answer rests on something the synchronous standby has. A change
// is answered after its own commit, which waited for the standby. An
// answer that is the order's status as read (paid again, or the conflict
// that forbids the change) is confirmed first (db.ConfirmReplicated): the
// status read may be a change whose commit wait was cancelled, committed
// only locally. A commit that
// got no answer is resolved by reading the order back (readBack).
func (s *Store) settle(ctx context.Context, id uuid.UUID, user int64, to string) (_ Order, err error) {
	defer errs.Annotate(&err, "Store.settle(%s, user %d, %s)", id, user, to)
	// The transaction leaves readBackTime of the caller's deadline for
	// the read back, so that even an unknown outcome is answered in time.
	wctx := ctx
	if d, ok := ctx.Deadline(); ok && time.Until(d) > 2*readBackTime {
		var cancel context.CancelFunc
		wctx, cancel = context.WithDeadline(ctx, d.Add(-readBackTime))
		defer cancel()
	}
	// One connection, one server: the confirmation below must run where
	// the order was read.
	conn, err := s.pool.Acquire(wctx)
	if err != nil {
		return Order{}, db.Map(fmt.Errorf("acquire a connection: %w", err), "database")
	}
	defer conn.Release()
	var o Order
	var next string   // the status written; "" when the answer is the order as read
	var refusal error // why the order as read cannot be moved to to
	err = db.Transact(wctx, conn, func(tx pgx.Tx) error {
		var due bool
		row := tx.QueryRow(wctx, `SELECT `+orderColumns+`, pay_by <= now() FROM orders.orders WHERE id = $1 FOR UPDATE`, id)
		err := row.Scan(&o.ID, &o.UserID, &o.ActivityID, &o.ProductID, &o.Quantity, &o.Price, &o.Status, &o.PayBy,
			&o.CreatedAt, &o.UpdatedAt, &due)
		if err != nil {
			return db.Map(err, fmt.Sprintf("order %s", id))
		}
		if next, refusal = decide(o, due, user, to); next == "" {
			return errNothingToWrite
		}
		o, err = scanOrder(tx.QueryRow(wctx, `UPDATE orders.orders SET status = $2, updated_at = now()
			WHERE id = $1 RETURNING `+orderColumns, id, next))
		return db.Map(err, fmt.Sprintf("order %s", id))
	})
	switch {
	case errors.Is(err, errNothingToWrite) && errs.Is(refusal, errs.Forbidden):
		return Order{}, refusal // an order's buyer never changes: nothing to confirm
	case errors.Is(err, errNothingToWrite):
		// The order as read may be an earlier request's change that only
		// the leader has: until confirmed, what happened is unknown.
		if err := db.ConfirmReplicated(ctx, conn); err != nil {
			return Order{}, fmt.Errorf("%w (order read as %s: %w)", ErrOutcomeUnknown, o.Status, err)
		}
		if refusal != nil {
			return Order{}, refusal
		}
		return o, nil
	case errors.Is(err, db.ErrCommitOutcomeUnknown):
		return s.readBack(ctx, id, user, to, err)
	case err != nil:
		return Order{}, err
	}
	s.opt.OnSettle(next, 1)
	if refusal != nil { // expired instead
		return Order{}, refusal
	}
	return o, nil
}

// decide is settle's rule: the status order o moves to when user asks for
// to ("" for none), and the refusal to answer instead of the order. due
// says o is past its pay_by by the database's clock.
func decide(o Order, due bool, user int64, to string) (next string, refusal error) {
	switch {
	case o.UserID != user:
		return "", errs.E(errs.Forbidden, "order %s is not user %d's", o.ID, user)
	case o.Status == to:
		return "", nil
	case o.Status != StatusCreated:
		return "", errs.E(errs.Conflict, "order %s is %s and cannot be %s", o.ID, o.Status, to)
	case due:
		// Past the deadline the order is expired, whoever asks first: the
		// buyer's request does what the sweeper would have done.
		return StatusExpired, errs.E(errs.Conflict, "order %s expired at %s, unpaid; its unit went back on sale",
			o.ID, o.PayBy.Format(time.RFC3339))
	}
	return to, nil
}

// readBack answers a settle whose commit got no answer (cause) from the
// order as it is now, read and confirmed replicated within readBackTime,
// as the purchase engine resolves a commit it did not hear back from.
// The order found moved to to (by this request or an earlier one) is the
// answer; found in another final status, the refusal that status calls
// for. Found still created, or not read at all, the outcome is unknown:
// a commit cut off on its way may still land.
func (s *Store) readBack(ctx context.Context, id uuid.UUID, user int64, to string, cause error) (Order, error) {
	// The caller's context may be what ended the commit: the read back
	// gets a bounded time of its own.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readBackTime)
	defer cancel()
	o, err := s.Get(rctx, id)
	if err != nil {
		return Order{}, fmt.Errorf("%w (commit: %w; read back: %w)", ErrOutcomeUnknown, cause, err)
	}
	if o.Status == StatusCreated {
		return Order{}, fmt.Errorf("%w (commit: %w; read back: the order is still %s)", ErrOutcomeUnknown, cause, o.Status)
	}
	if _, refusal := decide(o, false, user, to); refusal != nil {
		return Order{}, refusal
	}
	return o, nil
}
