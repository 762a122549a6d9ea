package order

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	otlog "github.com/opentracing/opentracing-go/log"

	"github.com/seckill/seckill/internal/platform/httpx"
	"github.com/seckill/seckill/internal/platform/outbox"
)

// activityClient is the order service's side of the activity service API:
// the receiver of settlements, POST /activities/settlements.
type activityClient struct{ c *httpx.Client }

// settleResult is the activity service's answer for one settlement:
// applied (first time), existing (already known, the same), or conflict
// (refused for good).
type settleResult struct {
	OrderID uuid.UUID `json:"order_id"`
	Status  string    `json:"status"`
	Message string    `json:"message"`
}

func (a activityClient) settle(ctx context.Context, in []Settlement) ([]settleResult, error) {
	var out struct {
		Results []settleResult `json:"results"`
	}
	err := a.c.Do(ctx, http.MethodPost, httpx.R("/activities/settlements"), map[string]any{"settlements": in}, &out)
	return out.Results, err
}

// settler runs the two background jobs of an order's end: the sweeper that
// expires unpaid orders past their pay_by, and the relay that tells the
// activity service every order's final status. The orders table is the
// relay's outbox: a settled order stays unreported until the activity
// service confirmed it, so a crash at any point only makes the relay send
// it again, and the receiver is idempotent on the order id. Several
// order-service instances may run both jobs at once.
type settler struct {
	store    *Store
	activity activityClient
	batch    int
	sweep    time.Duration // sweeper interval
	relay    *outbox.Loop
	log      *slog.Logger
	tracer   opentracing.Tracer
}

func newSettler(store *Store, activity activityClient, batch int, idle, sweep time.Duration, tracer opentracing.Tracer, log *slog.Logger) *settler {
	s := &settler{store: store, activity: activity, batch: batch, sweep: sweep, log: log, tracer: tracer}
	s.relay = outbox.New("settlements", s.reportOnce, outbox.Options{Batch: batch, Idle: idle, Log: log})
	return s
}

// notify wakes the relay; the store's OnSettle calls it.
func (s *settler) notify() { s.relay.Notify() }

// runSweeper expires due orders every interval until ctx is cancelled.
func (s *settler) runSweeper(ctx context.Context) error {
	t := time.NewTicker(s.sweep)
	defer t.Stop()
	for {
		for {
			n, err := s.store.Expire(ctx, s.batch)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("sweeper: expiring orders failed; will retry", "err", err)
				}
				break
			}
			if n < s.batch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// runRelay reports settlements until ctx is cancelled, then flushes what
// it can.
func (s *settler) runRelay(ctx context.Context) error { return s.relay.Run(ctx) }

// reportOnce sends one batch of unreported settlements and returns how many
// it handled.
func (s *settler) reportOnce(ctx context.Context) (n int, err error) {
	sts, err := s.store.Unreported(ctx, s.batch)
	if err != nil || len(sts) == 0 {
		return 0, err
	}
	span, ctx := opentracing.StartSpanFromContextWithTracer(ctx, s.tracer, "settlements.report")
	span.SetTag("orders", len(sts))
	defer func() {
		if err != nil {
			ext.Error.Set(span, true)
			span.LogFields(otlog.Error(err))
		}
		span.Finish()
	}()
	res, err := s.activity.settle(ctx, sts)
	if err != nil {
		return 0, err
	}
	done := make([]uuid.UUID, 0, len(res))
	for _, x := range res {
		switch x.Status {
		case "applied", "existing":
			done = append(done, x.OrderID)
		default:
			// The activity service does not know this order as a win,
			// or knows it settled otherwise: retrying cannot help.
			s.log.Error("settlements: activity service refused a settlement", "order_id", x.OrderID, "status", x.Status, "message", x.Message)
			if err := s.store.MarkSettleFailed(ctx, x.OrderID, x.Status+": "+x.Message); err != nil {
				return 0, err
			}
		}
	}
	if err := s.store.MarkReported(ctx, done); err != nil {
		return 0, err
	}
	return len(sts), nil
}
