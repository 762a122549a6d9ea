package activity

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/seckill/seckill/internal/platform/pgtest"
	"github.com/seckill/seckill/internal/seckill"
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
	s := NewStore(pool)
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
	rows, err := pool.Query(ctx, `EXPLAIN (ANALYZE, COSTS OFF) `+winnersAmong, id, users)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(lines, "\n")
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
