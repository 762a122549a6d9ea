package activity

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	otlog "github.com/opentracing/opentracing-go/log"
)

// relay delivers committed wins to the order service. The winners table is
// its outbox: it reads undelivered rows, posts them in batches, and marks
// them delivered only after the order service confirmed them. Delivery is
// at least once; the order service is idempotent on the order id, so each
// win becomes exactly one order. A restarted process resumes from the table.
type relay struct {
	outbox *Outbox
	orders orderClient
	batch  int
	idle   time.Duration // poll interval when nothing wakes it
	wake   chan struct{}
	log    *slog.Logger
	tracer opentracing.Tracer
}

func newRelay(outbox *Outbox, orders orderClient, batch int, idle time.Duration, tracer opentracing.Tracer, log *slog.Logger) *relay {
	return &relay{outbox: outbox, orders: orders, batch: batch, idle: idle, wake: make(chan struct{}, 1), log: log, tracer: tracer}
}

// gatherWins is how long a woken relay waits for more wins before it
// delivers: a sale's orders reach the order service a little later, in a
// few large batches instead of one per commit.
const gatherWins = 50 * time.Millisecond

// notify wakes the relay; the seckill engine calls it after a commit with wins.
func (r *relay) notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run delivers until ctx is cancelled, then makes one last bounded attempt
// to flush what is pending, so a graceful shutdown leaves little behind.
func (r *relay) run(ctx context.Context) error {
	backoff := time.Duration(0)
	for {
		n, err := r.deliverOnce(ctx)
		switch {
		case err != nil:
			backoff = min(max(2*backoff, 100*time.Millisecond), 10*time.Second)
			r.log.Warn("relay: delivery failed; will retry", "err", err, "retry_in", backoff)
		case n == r.batch:
			backoff = 0
			continue // more may be waiting
		default:
			backoff = 0
		}
		wait := r.idle
		if backoff > 0 {
			wait = backoff
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			r.flush()
			return nil
		case <-r.wake:
			if backoff == 0 {
				// A sale commits a batch of wins every few milliseconds:
				// let them gather into one delivery rather than chase
				// each one, which would take CPU from the sale itself.
				t.Reset(gatherWins)
			}
			// Else keep backing off while the order service is failing.
			select {
			case <-t.C:
			case <-ctx.Done():
				r.flush()
				return nil
			}
		case <-t.C:
		}
		t.Stop()
	}
}

func (r *relay) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for {
		n, err := r.deliverOnce(ctx)
		if err != nil || n < r.batch {
			return
		}
	}
}

// deliverOnce posts one batch and returns how many wins it handled.
func (r *relay) deliverOnce(ctx context.Context) (n int, err error) {
	ds, err := r.outbox.Undelivered(ctx, r.batch)
	if err != nil || len(ds) == 0 {
		return 0, err
	}
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
