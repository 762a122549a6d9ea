package activity

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/seckill"
	"github.com/seckill/seckill/internal/testing/pgtest"
	"github.com/seckill/seckill/internal/testing/svctest"
)

// reads are the ways a win is read back rather than committed: the
// engine's gate (Snapshot), its resolution of an unknown commit and its
// sold-out map (Resolve), and the outcome lookup (Outcome). Each returns
// the order id it answers for user, or uuid.Nil.
func reads(s *Sales, id, user int64) []struct {
	name string
	read func(ctx context.Context) (uuid.UUID, error)
} {
	return []struct {
		name string
		read func(ctx context.Context) (uuid.UUID, error)
	}{
		{"Snapshot", func(ctx context.Context) (uuid.UUID, error) {
			snap, err := s.Snapshot(ctx, id)
			return snap.Winners[user], err
		}},
		{"ResolveUser", func(ctx context.Context) (uuid.UUID, error) {
			found, err := s.Resolve(ctx, id, []int64{user})
			return found[user], err
		}},
		{"ResolveAll", func(ctx context.Context) (uuid.UUID, error) {
			found, err := s.Resolve(ctx, id, nil)
			return found[user], err
		}},
		{"Outcome", func(ctx context.Context) (uuid.UUID, error) {
			o, err := s.Outcome(ctx, id, user)
			if err != nil || !o.Won {
				return uuid.Nil, err
			}
			return uuid.Parse(o.OrderID)
		}},
	}
}

// openSale inserts an activity of stock 10 open for a day through pool.
func openSale(t *testing.T, pool *pgxpool.Pool) int64 {
	t.Helper()
	var id int64
	err := pool.QueryRow(context.Background(), `INSERT INTO activity.activities (name, product_id, price, stock, remaining, start_time, end_time)
		VALUES ('durable', 1, 1, 10, 10, now() - interval '1 minute', now() + interval '1 day') RETURNING id`).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestSales_NoWinTheStandbyMayNotHave writes a win the way a purchase does,
// on a leader whose synchronous standby is gone: the commit waits, the
// commit's context ends, and the win stays committed locally, visible to
// every session. No read may answer it: each fails within its deadline
// (503 over HTTP), and once the standby requirement is lifted (the win is
// then as durable as any commit) each answers it.
func TestSales_NoWinTheStandbyMayNotHave(t *testing.T) {
	ctx := context.Background()
	stall := pgtest.NewStall(t)
	pool, err := pgxpool.New(ctx, stall.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := NewSales(pool)
	id := openSale(t, stall.Local)
	const user = 42
	order := uuid.New()
	stall.CommitLocallyOnly(t, func(ctx context.Context) error {
		_, _, err := s.Commit(ctx, id, []seckill.Claim{{UserID: user, OrderID: order}})
		return err
	})
	var onLeader uuid.UUID
	if err := stall.Local.QueryRow(ctx, `SELECT order_id FROM activity.winners WHERE activity_id = $1 AND user_id = $2`, id, user).Scan(&onLeader); err != nil || onLeader != order {
		t.Fatalf("the win committed locally is not visible (order %v, err %v): the test set up nothing", onLeader, err)
	}

	base := svctest.Start(t, Run, map[string]string{"DATABASE_URL": stall.URL, "MIGRATE_ON_START": "false",
		"HTTP_HANDLER_TIMEOUT": "2s", "PRODUCT_SERVICE_URL": "http://127.0.0.1:1", "ORDER_SERVICE_URL": "http://127.0.0.1:1"}).URL
	outcomeURL := fmt.Sprintf("%s/activities/%d/seckill/%d", base, id, user)
	buyURL := fmt.Sprintf("%s/activities/%d/seckill", base, id)

	t.Run("Unconfirmed", func(t *testing.T) {
		const deadline = time.Second
		for _, r := range reads(s, id, user) {
			t.Run(r.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				defer cancel()
				start := time.Now()
				got, err := r.read(ctx)
				if code := errs.CodeOf(err); code != errs.Unavailable || got != uuid.Nil {
					t.Errorf("answered order %v, err %v (code %q); want no order and code %q", got, err, code, errs.Unavailable)
				}
				if took := time.Since(start); took > deadline+time.Second {
					t.Errorf("answered after %v with a deadline of %v", took, deadline)
				}
			})
		}
		for _, c := range []struct {
			name, method, url string
			body              any
		}{
			{"GetOutcome", "GET", outcomeURL, nil},
			{"BuyAgain", "POST", buyURL, map[string]any{"user_id": user}},
		} {
			t.Run(c.name, func(t *testing.T) {
				start := time.Now()
				r := svctest.DoAs(t, "", c.method, c.url, c.body) // a buyer, in open buyer mode
				svctest.CheckError(t, r, 503)
				if took := time.Since(start); took > 3*time.Second {
					t.Errorf("answered after %v with a handler timeout of 2s", took)
				}
			})
		}
	})

	stall.End(t)
	t.Run("ConfirmedOnceTheStandbyRequirementIsLifted", func(t *testing.T) {
		for _, r := range reads(s, id, user) {
			t.Run(r.name, func(t *testing.T) {
				if got, err := r.read(context.Background()); err != nil || got != order {
					t.Errorf("answered order %v, err %v; want %v", got, err, order)
				}
			})
		}
		r := svctest.DoAs(t, "", "GET", outcomeURL, nil)
		if r.Status != 200 || r.Data()["status"] != "won" || r.Data()["order_id"] != order.String() {
			t.Errorf("GET outcome: %d %s", r.Status, r.Raw)
		}
		r = svctest.DoAs(t, "", "POST", buyURL, map[string]any{"user_id": user})
		if r.Status != 200 || r.Data()["status"] != "already_won" || r.Data()["order_id"] != order.String() {
			t.Errorf("buy again: %d %s", r.Status, r.Raw)
		}
	})
}

// TestSales_ReadsAnswerACommittedWin is the same reads where commits need
// no standby: they answer the win.
func TestSales_ReadsAnswerACommittedWin(t *testing.T) {
	pool, _ := pgtest.NewPool(t)
	s := NewSales(pool)
	id := openSale(t, pool)
	const user = 42
	order := uuid.New()
	if _, _, err := s.Commit(context.Background(), id, []seckill.Claim{{UserID: user, OrderID: order}}); err != nil {
		t.Fatal(err)
	}
	for _, r := range reads(s, id, user) {
		t.Run(r.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if got, err := r.read(ctx); err != nil || got != order {
				t.Errorf("answered order %v, err %v; want %v", got, err, order)
			}
		})
	}
}
