package activity_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/testing/svctest"
)

// watchUnits checks a product's inventory + reserved + sold every few
// milliseconds until the returned stop is called, and reports every time it
// differs from total.
func watchUnits(t *testing.T, base string, product, total int64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var checks atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			units(t, base, product, total)
			checks.Add(1)
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			close(done)
			wg.Wait()
			t.Logf("inventory + reserved + sold checked %d times during the test", checks.Load())
		})
	}
	t.Cleanup(stop)
	return stop
}

// outcome reads GET /activities/{id}/seckill/{user}.
func outcome(t *testing.T, base string, id, user int64) map[string]any {
	t.Helper()
	return svctest.Do(t, "GET", fmt.Sprintf("%s/activities/%d/seckill/%d", base, id, user), nil).Data()
}

// TestLifecycle_ReturnedUnitsAreResold is the life of a sale's units after
// the win, end to end on two activity instances: 100 winners, of whom 40
// pay, 30 cancel and 30 let the order expire; the 60 units go back on sale
// and the 60 users are forfeited; a second crowd wins exactly those 60, of
// whom 50 pay; after the end the product has sold 90 and holds nothing.
func TestLifecycle_ReturnedUnitsAreResold(t *testing.T) {
	const payTimeout = 5 * time.Second
	s := newSale3(t, 2, map[string]string{"ORDER_PAYMENT_TIMEOUT": payTimeout.String()})
	const initial, stock = 1000, 100
	product, id := s.saleOf(t, initial, stock, time.Now().Add(time.Hour))
	stopWatch := watchUnits(t, s.product, product, initial)
	st := func() map[string]int64 {
		d := stats(t, s.activities[1], id)
		out := map[string]int64{}
		for _, k := range []string{"stock", "remaining", "sold", "paid", "returned", "released"} {
			out[k] = svctest.Int(d[k])
		}
		if out["stock"] != out["remaining"]+out["sold"]+out["released"] {
			t.Errorf("stats: stock %d != remaining %d + sold %d + released %d", out["stock"], out["remaining"], out["sold"], out["released"])
		}
		return out
	}

	// Round one: 2,000 users ask twice; 100 win.
	s.pauseOrders(t)
	won := winners(crowd(t, s.activities, id, 1, 2_001))
	if len(won) != stock {
		t.Fatalf("round one: %d winners, want %d", len(won), stock)
	}
	s.resumeOrders(t)
	waitDelivered(t, s.activities[0], id, 30*time.Second)
	paid, cancelled, expiring := split(won, 40), split(won, 30), won
	s.settle(t, "pay", paid)
	s.settle(t, "cancel", cancelled)
	eventually(t, payTimeout+10*time.Second, "remaining 60, returned 60, paid 40", func() bool {
		d := st()
		return d["remaining"] == 60 && d["returned"] == 60 && d["paid"] == 40
	})
	forfeited := map[int64]string{}
	for _, m := range []map[int64]string{cancelled, expiring} {
		for u, o := range m {
			forfeited[u] = o
		}
	}
	for u := range forfeited {
		for _, b := range s.activities {
			if a := buy(t, b, id, u); a.status != "forfeited" || a.orderID != "" {
				t.Errorf("round one's forfeited user %d asks %s: %s %s, want forfeited", u, b, a.status, a.orderID)
			}
		}
		if o := outcome(t, s.activities[1], id, u); o["won"] != false || o["status"] != "forfeited" {
			t.Errorf("outcome of forfeited user %d: %v", u, o)
		}
	}
	for u, oid := range paid {
		if o := outcome(t, s.activities[0], id, u); o["won"] != true || o["status"] != "won" || o["order_id"] != oid {
			t.Errorf("outcome of paying user %d: %v", u, o)
		}
	}

	// Round two: 2,000 new users ask twice while the forfeited ask again;
	// exactly the 60 returned units are won, by new users only.
	// The order service's counters of round one, before it restarts.
	settledBefore := map[string]float64{}
	for _, st := range []string{"paid", "cancelled", "expired"} {
		settledBefore[st] = metric(t, s.order, "orders_settled_total", `service="order",status="`+st+`"`)
	}
	s.pauseOrders(t)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for u := range forfeited {
			if a := buy(t, s.activities[int(u)%2], id, u); a.status != "forfeited" {
				t.Errorf("forfeited user %d during round two: %s", u, a.status)
			}
		}
	}()
	again := winners(crowd(t, s.activities, id, 10_001, 12_001))
	wg.Wait()
	if len(again) != 60 {
		t.Fatalf("round two: %d winners, want 60", len(again))
	}
	if d := st(); d["remaining"] != 0 || d["sold"] != stock {
		t.Errorf("after round two: %v", d)
	}
	s.resumeOrders(t)
	waitDelivered(t, s.activities[0], id, 30*time.Second)
	paid2 := split(again, 50)
	s.settle(t, "pay", paid2)

	// The sale ends; the 10 unpaid orders expire after it.
	end := time.Now().Add(200 * time.Millisecond)
	if r := svctest.Do(t, "PUT", fmt.Sprintf("%s/activities/%d", s.activities[0], id), map[string]any{"end_time": end.Format(time.RFC3339Nano)}); r.Status != 200 {
		t.Fatalf("end the sale: %d %s", r.Status, r.Raw)
	}
	eventually(t, payTimeout+10*time.Second, "the product sold 90 and holds nothing", func() bool {
		inventory, reserved, sold := units(t, s.product, product, initial)
		return sold == 90 && reserved == 0 && inventory == initial-90
	})
	if d := st(); d["paid"] != 90 || d["returned"] != 70 || d["sold"] != 90 || d["remaining"] != 0 || d["released"] != 10 {
		t.Errorf("stats after the end: %v", d)
	}
	var byStatus = map[string]int{}
	rows, err := s.pool.Query(context.Background(), `SELECT status, count(*) FROM orders.orders WHERE activity_id = $1 GROUP BY status`, id)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			t.Fatal(err)
		}
		byStatus[st] = n
	}
	if want := map[string]int{"paid": 90, "cancelled": 30, "expired": 40}; fmt.Sprint(byStatus) != fmt.Sprint(want) {
		t.Errorf("orders by status: %v, want %v", byStatus, want)
	}
	for st, want := range map[string]float64{"paid": 90, "cancelled": 30, "expired": 40} {
		if got := settledBefore[st] + metric(t, s.order, "orders_settled_total", `service="order",status="`+st+`"`); got != want {
			t.Errorf("orders_settled_total{%s} over both order processes = %v, want %v", st, got, want)
		}
	}
	returned := metric(t, s.activities[0], "settled_units_total", `outcome="returned",service="activity"`) +
		metric(t, s.activities[1], "settled_units_total", `outcome="returned",service="activity"`)
	if returned != 70 {
		t.Errorf("settled_units_total{returned} over both instances = %v, want 70", returned)
	}
	stopWatch()
	if r := svctest.Do(t, "DELETE", fmt.Sprintf("%s/products/%d", s.product, product), nil); r.Status != 200 {
		t.Errorf("delete the product once everything settled: %d %s", r.Status, r.Raw)
	}
}
