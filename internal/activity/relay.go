package activity

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	otlog "github.com/opentracing/opentracing-go/log"

	"github.com/seckill/seckill/internal/platform/outbox"
)

// relay delivers committed wins to the order service. The winners table is
// its outbox: it reads undelivered rows, posts them in batches, and marks
// them delivered only after the order service confirmed them. Delivery is
// at least once; the order service is idempotent on the order id, so each
// win becomes exactly one order. A restarted process resumes from the table.
//
// While a sale is in full swing the relay steps aside: each order it
// delivers costs the order service, the database and this process about as
// much CPU as the win itself, and on a machine the sale shares that halved
// the rate at which a large stock sold. While wins keep being committed it
// delivers one batch every rushEvery; once they stop for rushQuiet it
// delivers everything at full speed. A buyer's answer never waits for the
// relay: it carries the order id, and the order follows within seconds of
// the rush.
type relay struct {
	outbox *Outbox
	orders orderClient
	batch  int
	loop   *outbox.Loop
	tracer opentracing.Tracer
	log    *slog.Logger
	now    func() time.Time

	lastWin  atomic.Int64 // unix nanoseconds of the latest commit with wins
	lastSend atomic.Int64 // unix nanoseconds of the latest delivery
}

// While a win was committed within rushQuiet, the relay delivers one batch
// per rushEvery.
const (
	rushQuiet = 200 * time.Millisecond
	rushEvery = time.Second
)

func newRelay(ob *Outbox, orders orderClient, batch int, idle time.Duration, tracer opentracing.Tracer, log *slog.Logger) *relay {
	r := &relay{outbox: ob, orders: orders, batch: batch, tracer: tracer, log: log, now: time.Now}
	r.loop = outbox.New("relay", r.deliverOnce, outbox.Options{Batch: batch, Idle: idle, Gather: gatherWins, Hold: r.hold, Log: log})
	return r
}

// hold is how long the relay waits before its next delivery: until
// rushEvery after the last one while wins are being committed, else not at
// all.
func (r *relay) hold() time.Duration {
	now := r.now().UnixNano()
	if now-r.lastWin.Load() > int64(rushQuiet) {
		return 0
	}
	return time.Duration(r.lastSend.Load() + int64(rushEvery) - now)
}

// gatherWins is how long a woken relay waits for more wins before it
// delivers: a sale's orders reach the order service a little later, in a
// few large batches instead of one per commit, which would take CPU from
// the sale itself.
const gatherWins = 50 * time.Millisecond

// notify wakes the relay; the seckill engine calls it after a commit with wins.
func (r *relay) notify() {
	r.lastWin.Store(r.now().UnixNano())
	r.loop.Notify()
}

// run delivers until ctx is cancelled, then flushes what it can.
func (r *relay) run(ctx context.Context) error { return r.loop.Run(ctx) }

// deliverOnce posts one batch and returns how many wins it handled.
func (r *relay) deliverOnce(ctx context.Context) (n int, err error) {
	ds, err := r.outbox.Undelivered(ctx, r.batch)
	if err != nil || len(ds) == 0 {
		return 0, err
	}
	r.lastSend.Store(r.now().UnixNano())
	// Only a delivery gets a trace: the idle polls would drown it.
	span, ctx := opentracing.StartSpanFromContextWithTracer(ctx, r.tracer, "relay.deliver")
	span.SetTag("orders", len(ds))
	defer func() {
		if err != nil {
			ext.Error.Set(span, true)
			span.LogFields(otlog.Error(err))
		}
		span.Finish()
	}()
	in := make([]orderIn, len(ds))
	for i, d := range ds {
		in[i] = orderIn{ID: d.OrderID, UserID: d.UserID, ActivityID: d.ActivityID, ProductID: d.ProductID,
			Quantity: d.Quantity, Price: d.Price}
	}
	res, err := r.orders.createBatch(ctx, in)
	if err != nil {
		return 0, err
	}
	done := make([]uuid.UUID, 0, len(ds))
	for _, x := range res.Results {
		switch x.Status {
		case "created", "existing":
			done = append(done, x.ID)
		default:
			// Another order exists for this user and activity: retrying
			// cannot help. Keep the win, record why, and say so loudly.
			r.log.Error("relay: order service refused an order", "order_id", x.ID, "status", x.Status, "message", x.Message)
			if err := r.outbox.MarkFailed(ctx, x.ID, x.Status+": "+x.Message); err != nil {
				return 0, err
			}
		}
	}
	if err := r.outbox.MarkDelivered(ctx, done); err != nil {
		return 0, err
	}
	return len(ds), nil
}
