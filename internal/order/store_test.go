package order

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/seckill/seckill/internal/platform/money"
	"github.com/seckill/seckill/internal/testing/pgtest"
)

// TestStore_BatchReadsOnlyItsOwnOrders holds the cost of receiving a batch
// to the batch, not to every order ever taken: the relay delivers batch
// after batch while the table grows.
func TestStore_BatchReadsOnlyItsOwnOrders(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.NewPool(t)
	s := NewStore(pool, StoreOptions{})
	price := money.Cents(999)
	for round := range 20 {
		in := make([]CreateRequest, 250)
		for i := range in {
			in[i] = CreateRequest{ID: uuid.New(), UserID: int64(round*250 + i + 1), ActivityID: 1, ProductID: 1, Quantity: 1, Price: &price}
		}
		if _, err := s.CreateBatch(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `ANALYZE orders.orders`); err != nil {
		t.Fatal(err)
	}
	ids := []uuid.UUID{uuid.New(), uuid.New()}
	rows, err := pool.Query(ctx, pgtest.Explain+storedOrders, ids, []int64{1, 2}, []int64{1, 1})
	plan := pgtest.PlanText(t, rows, err)
	if strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "Rows Removed by Filter") {
		t.Errorf("reading 2 orders among 5000 walks the table:\n%s", plan)
	}
}
