package order

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/seckill/seckill/internal/platform/db"
	"github.com/seckill/seckill/internal/platform/errs"
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

// TestStore_ReadBackAnswersOnlyWhatItFinds is the resolution of a pay or
// cancel whose commit got no answer: the order found in the status asked
// for is the answer (this request's commit landed, or an earlier one's);
// found in another final status, the refusal that status calls for; found
// still created, the outcome is unknown, since the commit may still land.
func TestStore_ReadBackAnswersOnlyWhatItFinds(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.NewPool(t)
	s := NewStore(pool, StoreOptions{})
	cause := fmt.Errorf("commit: %w", db.ErrCommitOutcomeUnknown)
	user := int64(0) // one order per user and activity: a user per case
	for _, tc := range []struct {
		name, found, to string
		wantCode        errs.Code // "" for the order as the answer
		wantUnknown     bool
	}{
		{"PaidAsAsked", StatusPaid, StatusPaid, "", false},
		{"CancelledAsAsked", StatusCancelled, StatusCancelled, "", false},
		{"ExpiredInstead", StatusExpired, StatusPaid, errs.Conflict, false},
		{"CancelledNotPaid", StatusCancelled, StatusPaid, errs.Conflict, false},
		{"StillCreated", StatusCreated, StatusPaid, errs.Unavailable, true},
	} {
		user++
		t.Run(tc.name, func(t *testing.T) {
			id := uuid.New()
			_, err := pool.Exec(ctx, `INSERT INTO orders.orders (id, user_id, activity_id, product_id, quantity, price, pay_by, status)
				VALUES ($1, $2, 1, 3, 1, 9.99, now() + interval '1 hour', $3)`, id, user, tc.found)
			if err != nil {
				t.Fatal(err)
			}
			o, err := s.readBack(ctx, id, user, tc.to, cause)
			if got := errs.CodeOf(err); got != tc.wantCode {
				t.Fatalf("readBack = %+v, %v (code %q); want code %q", o, err, got, tc.wantCode)
			}
			if got := errors.Is(err, ErrOutcomeUnknown); got != tc.wantUnknown {
				t.Errorf("errors.Is(%v, ErrOutcomeUnknown) = %v, want %v", err, got, tc.wantUnknown)
			}
			if err == nil && (o.ID != id || o.Status != tc.found) {
				t.Errorf("readBack answered %+v, want order %s %s", o, id, tc.found)
			}
		})
	}
}
