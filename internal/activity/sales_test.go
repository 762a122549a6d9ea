package activity

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/seckill"
	"github.com/seckill/seckill/internal/testing/pgtest"
)

// TestStore_CommitProbesOnlyItsOwnUsers holds the cost of a commit to its
// batch, not to the sale so far. The statistics are taken while the
// activity has no winners, as they are when a sale begins; the activity
// then gets thousands. Reading a batch's users must still be one key probe
// each: a plan that walks the activity's winners makes every commit slower
// than the one before.
func TestStore_CommitProbesOnlyItsOwnUsers(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.NewPool(t)
	var id int64
	err := pool.QueryRow(ctx, `INSERT INTO activity.activities (name, product_id, price, stock, remaining, start_time, end_time)
		VALUES ('plan', 1, 1, 100000, 100000, now(), now() + interval '1 hour') RETURNING id`).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE activity.winners`); err != nil {
		t.Fatal(err)
	}
	s := NewSales(pool)
	for round := range 40 {
		claims := make([]seckill.Claim, 128)
		for i := range claims {
			claims[i] = seckill.Claim{UserID: int64(round*1000 + i + 1), OrderID: uuid.New()}
		}
		if _, _, err := s.Commit(ctx, id, claims); err != nil {
			t.Fatal(err)
		}
	}

	users := make([]int64, 64)
	for i := range users {
		users[i] = int64(1_000_000 + i)
	}
	rows, err := pool.Query(ctx, pgtest.Explain+winnersAmong, id, users)
	plan := pgtest.PlanText(t, rows, err)
	if strings.Contains(plan, "Rows Removed by Filter") || !strings.Contains(plan, "user_id = u.id") {
		t.Errorf("reading 64 users of an activity with 5120 winners walks the winners:\n%s", plan)
	}

	// And the answers are right: winners with their order ids, nobody else.
	got, err := s.Resolve(ctx, id, []int64{1, 128, 129, 39_128, 1_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1] == uuid.Nil || got[128] == uuid.Nil || got[39_128] == uuid.Nil {
		t.Errorf("Resolve = %v, want users 1, 128 and 39128", fmt.Sprint(got))
	}
}

// TestStore_CommitLeavesNoTransactionBehind drives Commit into each of its
// failures on a pool of one connection: every later commit gets that same
// connection, so a transaction left open by a failure would show at once.
func TestStore_CommitLeavesNoTransactionBehind(t *testing.T) {
	ctx := context.Background()
	pool, id := oneConnSale(t, 3)
	s := NewSales(pool)
	claim := func(user int64) seckill.Claim { return seckill.Claim{UserID: user, OrderID: uuid.New()} }

	t.Run("UnknownActivity", func(t *testing.T) {
		_, _, err := s.Commit(ctx, id+1000, []seckill.Claim{claim(1)})
		if got, want := errs.CodeOf(err), errs.NotFound; got != want {
			t.Errorf("code %v, want %v (err %v)", got, want, err)
		}
	})
	t.Run("RefusedInsertWritesNothing", func(t *testing.T) {
		// user_id must be positive: the insert fails inside the closing
		// batch, after the stock update in the same statement.
		_, _, err := s.Commit(ctx, id, []seckill.Claim{claim(7), claim(-1)})
		if err == nil {
			t.Fatal("a claim the table refuses committed")
		}
		var remaining, winners int64
		if err := pool.QueryRow(ctx, `SELECT remaining, (SELECT count(*) FROM activity.winners WHERE activity_id = $1)
			FROM activity.activities WHERE id = $1`, id).Scan(&remaining, &winners); err != nil {
			t.Fatal(err)
		}
		if remaining != 3 || winners != 0 {
			t.Errorf("after a failed commit: remaining %d, winners %d; want 3 and 0", remaining, winners)
		}
	})
	t.Run("LaterCommitsDecideAsUsual", func(t *testing.T) {
		outs, remaining, err := s.Commit(ctx, id, []seckill.Claim{claim(1), claim(2), claim(1), claim(3), claim(4)})
		if err != nil {
			t.Fatal(err)
		}
		var got []seckill.Status
		for _, o := range outs {
			got = append(got, o.Status)
		}
		want := []seckill.Status{seckill.Won, seckill.Won, seckill.AlreadyWon, seckill.Won, seckill.SoldOut}
		if fmt.Sprint(got) != fmt.Sprint(want) || remaining != 0 {
			t.Errorf("outcomes %v remaining %d, want %v and 0", got, remaining, want)
		}
		if outs[2].OrderID != outs[0].OrderID {
			t.Errorf("user 1's repeat in the batch got order %v, want %v", outs[2].OrderID, outs[0].OrderID)
		}
		outs, remaining, err = s.Commit(ctx, id, []seckill.Claim{claim(2), claim(5)})
		if err != nil {
			t.Fatal(err)
		}
		if outs[0].Status != seckill.AlreadyWon || outs[1].Status != seckill.SoldOut || remaining != 0 {
			t.Errorf("after the sale: %v remaining %d", outs, remaining)
		}
	})
}

// oneConnSale returns a pool of one connection on a fresh database and an
// activity of stock units open for a day, created through it.
func oneConnSale(tb testing.TB, stock int64) (*pgxpool.Pool, int64) {
	tb.Helper()
	ctx := context.Background()
	_, url := pgtest.NewPool(tb)
	pool, err := pgxpool.New(ctx, url+"&pool_max_conns=1")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	var id int64
	err = pool.QueryRow(ctx, `INSERT INTO activity.activities (name, product_id, price, stock, remaining, start_time, end_time)
		VALUES ('one conn', 1, 1, $1, $1, now(), now() + interval '1 day') RETURNING id`, stock).Scan(&id)
	if err != nil {
		tb.Fatal(err)
	}
	return pool, id
}
