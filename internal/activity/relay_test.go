package activity_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/devstack/pgserver"
	"github.com/seckill/seckill/internal/order"
	"github.com/seckill/seckill/internal/testing/svctest"
)

// orders returns every order of activity id as user → order id, reading
// every page of GET /orders.
func orders(t *testing.T, base string, id int64) map[int64]string {
	t.Helper()
	out := map[int64]string{}
	for offset := 0; ; offset += 100 {
		r := svctest.Do(t, "GET", fmt.Sprintf("%s/orders?activity_id=%d&limit=100&offset=%d", base, id, offset), nil)
		if r.Status != 200 {
			t.Fatalf("list orders: %d %s", r.Status, r.Raw)
		}
		items, _ := r.Body["data"].([]any)
		for _, it := range items {
			o := it.(map[string]any)
			u := svctest.Int(o["user_id"])
			if _, dup := out[u]; dup {
				t.Errorf("user %d has two orders", u)
			}
			out[u] = fmt.Sprint(o["id"])
		}
		if len(items) < 100 {
			return out
		}
	}
}

// waitDelivered polls the activity's stats until nothing is undelivered.
func waitDelivered(t *testing.T, base string, id int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		d := svctest.Do(t, "GET", fmt.Sprintf("%s/activities/%d/stats", base, id), nil).Data()
		if svctest.Int(d["undelivered"]) == 0 && svctest.Int(d["failed"]) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("relay backlog not drained within %s: %v", within, d)
		}
		time.Sleep(50 * time.Millisecond) // polling interval of a deadline-bounded wait
	}
}

// checkOrders asserts that the order service holds exactly one order per
// winner, with the order id the winner was told, and that each winner's
// persisted outcome agrees with the order service.
func checkOrders(t *testing.T, s *stack, activityURL, orderURL string, id int64, stock int) {
	t.Helper()
	winners := map[int64]string{}
	rows, err := s.pool.Query(context.Background(), `SELECT user_id, order_id::text FROM activity.winners WHERE activity_id = $1`, id)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var u int64
		var o string
		if err := rows.Scan(&u, &o); err != nil {
			t.Fatal(err)
		}
		winners[u] = o
	}
	rows.Close()
	got := orders(t, orderURL, id)
	if len(winners) != stock || len(got) != stock {
		t.Errorf("%d winners, %d orders; want %d of each", len(winners), len(got), stock)
	}
	for u, oid := range winners {
		if got[u] != oid {
			t.Errorf("user %d won order %s; the order service holds %q", u, oid, got[u])
		}
		o := svctest.Do(t, "GET", fmt.Sprintf("%s/activities/%d/seckill/%d", activityURL, id, u), nil).Data()
		byUser := svctest.Do(t, "GET", fmt.Sprintf("%s/orders?user_id=%d&activity_id=%d", orderURL, u, id), nil)
		items, _ := byUser.Body["data"].([]any)
		if o["won"] != true || o["order_id"] != oid || len(items) != 1 || items[0].(map[string]any)["id"] != oid {
			t.Errorf("user %d: outcome %v and orders %s disagree", u, o, byUser.Raw)
		}
	}
}

func TestRelay_OrderServiceDownDuringSale(t *testing.T) {
	s := newStack(t)
	port, err := pgserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	orderAddr := fmt.Sprintf("127.0.0.1:%d", port)
	s.env["ORDER_SERVICE_URL"] = "http://" + orderAddr
	s.env["RELAY_INTERVAL"] = "100ms"
	a := s.activity(t)
	const stock = 50
	id := s.sale(t, a.URL, stock)
	// The stats read before the sale (nothing to deliver) must not be
	// served again after it: the outbox counts are kept for a second.
	stats := fmt.Sprintf("%s/activities/%d/stats", a.URL, id)
	if d := svctest.Do(t, "GET", stats, nil).Data(); svctest.Int(d["undelivered"]) != 0 {
		t.Fatalf("before the sale, stats = %v; want nothing undelivered", d)
	}
	crowd(t, []string{a.URL}, id, 1, 2_001)
	if d := svctest.Do(t, "GET", stats, nil).Data(); svctest.Int(d["undelivered"]) != stock {
		t.Fatalf("with the order service down, stats = %v; want %d undelivered", d, stock)
	}
	o := svctest.Start(t, order.Run, map[string]string{"DATABASE_URL": s.dbURL, "HTTP_ADDR": orderAddr})
	waitDelivered(t, a.URL, id, 30*time.Second)
	checkOrders(t, s, a.URL, o.URL, id, stock)
	t.Logf("order service down for the whole sale: %d wins delivered after it came back, one order each", stock)
}

func TestRelay_NewActivityProcessDeliversWhatTheOldOneCommitted(t *testing.T) {
	s := newStack(t)
	port, err := pgserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	orderAddr := fmt.Sprintf("127.0.0.1:%d", port)
	s.env["ORDER_SERVICE_URL"] = "http://" + orderAddr
	s.env["RELAY_INTERVAL"] = "100ms"
	a := s.activity(t)
	const stock = 30
	id := s.sale(t, a.URL, stock)
	crowd(t, []string{a.URL}, id, 1, 1_001)
	// The process goes away with every win committed and none delivered.
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	o := svctest.Start(t, order.Run, map[string]string{"DATABASE_URL": s.dbURL, "HTTP_ADDR": orderAddr})
	b := s.activity(t)
	waitDelivered(t, b.URL, id, 30*time.Second)
	checkOrders(t, s, b.URL, o.URL, id, stock)
}

func TestRelay_DeliversDuringTheSale(t *testing.T) {
	s := newStack(t)
	o := svctest.Start(t, order.Run, map[string]string{"DATABASE_URL": s.dbURL})
	s.env["ORDER_SERVICE_URL"] = o.URL
	a := s.activity(t)
	const stock = 200
	id := s.sale(t, a.URL, stock)
	crowd(t, []string{a.URL}, id, 1, 5_001)
	waitDelivered(t, a.URL, id, 30*time.Second)
	checkOrders(t, s, a.URL, o.URL, id, stock)
}
