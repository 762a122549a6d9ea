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
	idle     time.Duration // relay poll interval when nothing wakes it
	sweep    time.Duration // sweeper interval
	wake     chan struct{}
	log      *slog.Logger
	tracer   opentracing.Tracer
}

func newSettler(store *Store, activity activityClient, batch int, idle, sweep time.Duration, tracer opentracing.Tracer, log *slog.Logger) *settler {
	return &settler{store: store, activity: activity, batch: batch, idle: idle, sweep: sweep,
		wake: make(chan struct{}, 1), log: log, tracer: tracer}
}

// notify wakes the relay; the store's OnSettle calls it.
func (s *settler) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

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

// runRelay reports settlements until ctx is cancelled, then makes one last
// bounded attempt, so a graceful shutdown leaves little behind.
func (s *settler) runRelay(ctx context.Context) error {
	backoff := time.Duration(0)
	for {
		n, err := s.reportOnce(ctx)
		switch {
		case err != nil:
			backoff = min(max(2*backoff, 100*time.Millisecond), 10*time.Second)
			if ctx.Err() == nil {
				s.log.Warn("settlements: report failed; will retry", "err", err, "retry_in", backoff)
			}
		case n == s.batch:
			backoff = 0
			continue // more may be waiting
		default:
			backoff = 0
		}
		wait := s.idle
		if backoff > 0 {
			wait = backoff
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			s.flush()
			return nil
		case <-s.wake:
			if backoff > 0 {
				// Keep backing off while the activity service fails.
				select {
				case <-t.C:
				case <-ctx.Done():
					s.flush()
					return nil
				}
			}
		case <-t.C:
		}
		t.Stop()
	}
}

func (s *settler) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for {
		n, err := s.reportOnce(ctx)
		if err != nil || n < s.batch {
			return
		}
	}
}

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
