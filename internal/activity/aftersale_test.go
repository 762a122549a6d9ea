package activity_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/seckill/seckill/internal/devstack/pgserver"
	"github.com/seckill/seckill/internal/order"
	"github.com/seckill/seckill/internal/testing/svctest"
)

// sale3 is the whole stack: a product service, n activity instances and an
// order service that settles with the first of them.
type sale3 struct {
	*stack
	activities []string
	order      string
	orderEnv   map[string]string
	orderSvc   *svctest.Service
}

func newSale3(t *testing.T, n int, orderEnv map[string]string) *sale3 {
	t.Helper()
	s := newStack(t)
	port, err := pgserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	orderAddr := fmt.Sprintf("127.0.0.1:%d", port)
	s.env["ORDER_SERVICE_URL"] = "http://" + orderAddr
	s.env["RELAY_INTERVAL"] = "100ms"
	s.env["AFTER_SALE_INTERVAL"] = "200ms"
	out := &sale3{stack: s}
	for range n {
		out.activities = append(out.activities, s.activity(t).URL)
	}
	env := map[string]string{"DATABASE_URL": s.dbURL, "HTTP_ADDR": orderAddr, "ACTIVITY_SERVICE_URL": out.activities[0],
		"RELAY_INTERVAL": "100ms", "ORDER_SWEEP_INTERVAL": "100ms"}
	for k, v := range orderEnv {
		env[k] = v
	}
	out.orderEnv = env
	out.orderSvc = svctest.Start(t, order.Run, env)
	out.order = out.orderSvc.URL
	return out
}

// pauseOrders stops the order service: wins wait in the activity's outbox
// and their orders (and payment deadlines) start when resumeOrders brings
// it back on the same address. A crowd on a busy machine takes longer than
// a test's short payment timeout.
func (s *sale3) pauseOrders(t *testing.T) {
	t.Helper()
	if err := s.orderSvc.Stop(); err != nil {
		t.Fatal(err)
	}
}

func (s *sale3) resumeOrders(t *testing.T) {
	t.Helper()
	s.orderSvc = svctest.Start(t, order.Run, s.orderEnv)
}

// saleOf creates a product with inventory units and an activity of stock
// units of it, open from a minute ago to end.
func (s *sale3) saleOf(t *testing.T, inventory, stock int, end time.Time) (product, activity int64) {
	t.Helper()
	r := svctest.Do(t, "POST", s.product+"/products", map[string]any{"name": fmt.Sprintf("item-%d", time.Now().UnixNano()), "price": 5.5, "inventory": inventory})
	if r.Status != 201 {
		t.Fatalf("create product: %d %s", r.Status, r.Raw)
	}
	product = svctest.Int(r.Data()["id"])
	r = svctest.Do(t, "POST", s.activities[0]+"/activities", map[string]any{"name": "sale", "product_id": product, "stock": stock,
		"start_time": time.Now().Add(-time.Minute).Format(time.RFC3339), "end_time": end.Format(time.RFC3339Nano)})
	if r.Status != 201 {
		t.Fatalf("create activity: %d %s", r.Status, r.Raw)
	}
	return product, svctest.Int(r.Data()["id"])
}

// winners collects the users who won among answers, with their order ids.
func winners(answers map[int64][2]answer) map[int64]string {
	out := map[int64]string{}
	for u, p := range answers {
		for _, a := range p {
			if a.status == "won" {
				out[u] = a.orderID
			}
		}
	}
	return out
}

// stats reads GET /activities/{id}/stats.
func stats(t *testing.T, base string, id int64) map[string]any {
	t.Helper()
	r := svctest.Do(t, "GET", fmt.Sprintf("%s/activities/%d/stats", base, id), nil)
	if r.Status != 200 {
		t.Fatalf("stats: %d %s", r.Status, r.Raw)
	}
	return r.Data()
}

// units reads a product's inventory, reserved and sold, and checks that
// they add up to total.
func units(t *testing.T, base string, product, total int64) (inventory, reserved, sold int64) {
	t.Helper()
	d := svctest.Do(t, "GET", fmt.Sprintf("%s/products/%d", base, product), nil).Data()
	inventory, reserved, sold = svctest.Int(d["inventory"]), svctest.Int(d["reserved"]), svctest.Int(d["sold"])
	if inventory+reserved+sold != total {
		t.Errorf("product %d: inventory %d + reserved %d + sold %d = %d, want %d", product, inventory, reserved, sold,
			inventory+reserved+sold, total)
	}
	return inventory, reserved, sold
}

// metric reads one sample of a service's /metrics, 0 when absent.
func metric(t *testing.T, base, name, labels string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + name + `\{` + labels + `\} (\S+)$`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// eventually polls cond until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(25 * time.Millisecond) // polling interval of a deadline-bounded wait
	}
}

// settle pays or cancels each order concurrently as its buyer.
func (s *sale3) settle(t *testing.T, op string, orders map[int64]string) {
	t.Helper()
	var wg sync.WaitGroup
	for u, oid := range orders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := svctest.DoAs(t, "", "POST", s.order+"/orders/"+oid+"/"+op, map[string]any{"user_id": u})
			if r.Status != 200 {
				t.Errorf("%s order %s of user %d: %d %s", op, oid, u, r.Status, r.Raw)
			}
		}()
	}
	wg.Wait()
}

// split takes n entries off m.
func split(m map[int64]string, n int) map[int64]string {
	out := map[int64]string{}
	for u, o := range m {
		if len(out) == n {
			break
		}
		out[u] = o
		delete(m, u)
	}
	return out
}

// TestSettlements_ReturnsAreOnSaleOnEveryInstance: units of cancelled
// orders go back on sale, and an instance that had answered sold_out to
// everyone, and did not receive the settlement, sells them within 2 s.
func TestSettlements_ReturnsAreOnSaleOnEveryInstance(t *testing.T) {
	s := newSale3(t, 2, map[string]string{"ORDER_PAYMENT_TIMEOUT": "1h"})
	const inventory, stock = 25, 10
	product, id := s.saleOf(t, inventory, stock, time.Now().Add(time.Hour))
	won := winners(crowd(t, s.activities, id, 1, 201))
	if len(won) != stock {
		t.Fatalf("%d winners, want %d", len(won), stock)
	}
	// Both instances know the sale is sold out.
	for _, b := range s.activities {
		if a := buy(t, b, id, 10_000); a.status != "sold_out" {
			t.Fatalf("%s answers %s, want sold_out", b, a.status)
		}
	}
	waitDelivered(t, s.activities[0], id, 30*time.Second)
	s.settle(t, "pay", split(won, 4))
	cancelled := split(won, 3)
	s.settle(t, "cancel", cancelled)
	eventually(t, 10*time.Second, "3 units are back on sale", func() bool {
		d := stats(t, s.activities[1], id)
		return svctest.Int(d["remaining"]) == 3 && svctest.Int(d["returned"]) == 3 && svctest.Int(d["paid"]) == 4
	})
	// The second instance did not receive the settlements: it sells the
	// returned units after its next look at the database.
	reopened := time.Now()
	var user int64 = 20_000
	eventually(t, 2*time.Second, "the second instance sells a returned unit", func() bool {
		user++
		return buy(t, s.activities[1], id, user).status == "won"
	})
	t.Logf("a returned unit sold on the other instance %v after it was back in the database", time.Since(reopened).Round(time.Millisecond))
	again := winners(crowd(t, s.activities, id, 30_000, 30_200))
	if len(again) != 2 {
		t.Errorf("%d more winners, want 2", len(again))
	}
	d := stats(t, s.activities[0], id)
	if svctest.Int(d["remaining"]) != 0 || svctest.Int(d["sold"]) != stock || svctest.Int(d["returned"]) != 3 {
		t.Errorf("stats after the resale: %v", d)
	}
	eventually(t, 10*time.Second, "the product counts 4 sold", func() bool {
		_, reserved, sold := units(t, s.product, product, inventory)
		return sold == 4 && reserved == stock-4
	})
}

// TestSettlements_ReceiverCountsEachOrderOnce: the same settlements sent
// again, and at once from many callers, move the counts once.
func TestSettlements_ReceiverCountsEachOrderOnce(t *testing.T) {
	s := newSale3(t, 1, map[string]string{"ORDER_PAYMENT_TIMEOUT": "1h"})
	_, id := s.saleOf(t, 20, 20, time.Now().Add(time.Hour))
	won := winners(crowd(t, s.activities, id, 1, 41))
	var batch []map[string]any
	for u, oid := range won {
		st := "cancelled"
		if len(batch)%2 == 0 {
			st = "paid"
		}
		batch = append(batch, map[string]any{"order_id": oid, "activity_id": id, "user_id": u, "status": st})
	}
	url := s.activities[0] + "/activities/settlements"
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := svctest.DoAs(t, svctest.ServiceToken, "POST", url, map[string]any{"settlements": batch}); r.Status != 200 {
				t.Errorf("settle: %d %s", r.Status, r.Raw)
			}
		}()
	}
	wg.Wait()
	r := svctest.DoAs(t, svctest.ServiceToken, "POST", url, map[string]any{"settlements": batch})
	for _, x := range r.Data()["results"].([]any) {
		if st := x.(map[string]any)["status"]; st != "existing" {
			t.Errorf("a repeated settlement answered %v, want existing", st)
		}
	}
	d := stats(t, s.activities[0], id)
	if svctest.Int(d["paid"]) != 10 || svctest.Int(d["returned"]) != 10 || svctest.Int(d["remaining"]) != 10 || svctest.Int(d["sold"]) != 10 {
		t.Errorf("stats after 11 deliveries of 20 settlements: %v", d)
	}

	first := batch[0]
	other := map[string]any{"order_id": first["order_id"], "activity_id": id, "user_id": first["user_id"], "status": "expired"}
	if first["status"] == "cancelled" {
		other["status"] = "paid"
	}
	for name, item := range map[string]map[string]any{
		"UnknownOrder":    {"order_id": uuid.NewString(), "activity_id": id, "user_id": 1, "status": "paid"},
		"AnotherUser":     {"order_id": first["order_id"], "activity_id": id, "user_id": 999_999, "status": first["status"]},
		"AnotherActivity": {"order_id": first["order_id"], "activity_id": id + 1, "user_id": first["user_id"], "status": first["status"]},
		"AnotherStatus":   other,
	} {
		r := svctest.DoAs(t, svctest.ServiceToken, "POST", url, map[string]any{"settlements": []any{item}})
		if res := r.Data()["results"].([]any); r.Status != 200 || res[0].(map[string]any)["status"] != "conflict" {
			t.Errorf("%s: %d %s, want a conflict", name, r.Status, r.Raw)
		}
	}
	for name, body := range map[string]any{
		"Empty":       `{"settlements":[]}`,
		"BadStatus":   map[string]any{"settlements": []any{map[string]any{"order_id": uuid.NewString(), "activity_id": id, "user_id": 1, "status": "refunded"}}},
		"NoOrder":     map[string]any{"settlements": []any{map[string]any{"activity_id": id, "user_id": 1, "status": "paid"}}},
		"UnknownKey":  `{"settlements":[],"x":1}`,
		"Malformed":   `{"settlements":[`,
		"StringCount": map[string]any{"settlements": []any{map[string]any{"order_id": uuid.NewString(), "activity_id": "1", "user_id": 1, "status": "paid"}}},
	} {
		svctest.CheckError(t, svctest.DoAs(t, svctest.ServiceToken, "POST", url, body), 400)
		_ = name
	}
	// Only services report settlements.
	svctest.CheckDenied(t, svctest.DoAs(t, "", "POST", url, map[string]any{"settlements": batch}), 401)
	svctest.CheckDenied(t, svctest.Do(t, "POST", url, map[string]any{"settlements": batch}), 403)
	if d2 := stats(t, s.activities[0], id); fmt.Sprint(d2) != fmt.Sprint(d) {
		t.Errorf("stats changed after refused settlements: %v, was %v", d2, d)
	}
}

// TestAfterSale_EndGivesUnsoldUnitsBack: when the sale ends its unsold
// units go back to the product's inventory, once; a unit returned after the
// end goes there too; then the product can be deleted.
func TestAfterSale_EndGivesUnsoldUnitsBack(t *testing.T) {
	s := newSale3(t, 1, map[string]string{"ORDER_PAYMENT_TIMEOUT": "1h"})
	const inventory, stock = 30, 20
	product, id := s.saleOf(t, inventory, stock, time.Now().Add(time.Hour))
	won := winners(crowd(t, s.activities, id, 1, 9))
	waitDelivered(t, s.activities[0], id, 30*time.Second)
	s.settle(t, "pay", split(won, 5))
	// The sale ends now.
	end := time.Now().Add(300 * time.Millisecond)
	if r := svctest.Do(t, "PUT", fmt.Sprintf("%s/activities/%d", s.activities[0], id), map[string]any{"end_time": end.Format(time.RFC3339Nano)}); r.Status != 200 {
		t.Fatalf("move the end: %d %s", r.Status, r.Raw)
	}
	eventually(t, 5*time.Second, "the 12 unsold units go back to the product", func() bool {
		inv, reserved, sold := units(t, s.product, product, inventory)
		return inv == inventory-stock+12 && reserved == 3 && sold == 5
	})
	t.Logf("unsold units back in inventory %v after the end", time.Since(end).Round(time.Millisecond))
	if d := stats(t, s.activities[0], id); d["closed"] != true || svctest.Int(d["released"]) != 12 || svctest.Int(d["sold"]) != 8 {
		t.Errorf("stats after the end: %v", d)
	}
	svctest.CheckError(t, svctest.Do(t, "DELETE", fmt.Sprintf("%s/products/%d", s.product, product), nil), 409)
	// Its units went back: the end can no longer move (the sale would
	// reopen with nothing to sell), but a rename still works.
	item := fmt.Sprintf("%s/activities/%d", s.activities[0], id)
	svctest.CheckError(t, svctest.Do(t, "PUT", item, map[string]any{"end_time": time.Now().Add(time.Hour).Format(time.RFC3339)}), 409)
	if r := svctest.Do(t, "PUT", item, map[string]any{"name": "over"}); r.Status != 200 || r.Data()["closed"] != true || svctest.Int(r.Data()["released"]) != 12 {
		t.Errorf("rename an ended activity: %d %s", r.Status, r.Raw)
	}
	s.settle(t, "cancel", split(won, 2))
	s.settle(t, "pay", won)
	eventually(t, 5*time.Second, "the returned units go to inventory, the paid ones to sold", func() bool {
		inv, reserved, sold := units(t, s.product, product, inventory)
		return inv == inventory-stock+14 && reserved == 0 && sold == 6
	})
	if d := stats(t, s.activities[0], id); svctest.Int(d["remaining"]) != 0 || svctest.Int(d["released"]) != 14 || svctest.Int(d["paid"]) != 6 {
		t.Errorf("stats after the returns: %v", d)
	}
	if r := svctest.Do(t, "DELETE", fmt.Sprintf("%s/products/%d", s.product, product), nil); r.Status != 200 {
		t.Errorf("delete a product whose sale ended and settled: %d %s", r.Status, r.Raw)
	}
	var closed int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM activity.activities WHERE closed_at IS NOT NULL`).Scan(&closed); err != nil || closed != 1 {
		t.Errorf("%d closed activities (%v), want 1", closed, err)
	}
}

// TestAfterSale_UnsoldActivityEndsAndIsDeleted: a sale that sold nothing
// gives every unit back at its end, and can then be deleted, leaving the
// product as it was.
func TestAfterSale_UnsoldActivityEndsAndIsDeleted(t *testing.T) {
	s := newSale3(t, 1, nil)
	const inventory, stock = 12, 5
	product, id := s.saleOf(t, inventory, stock, time.Now().Add(300*time.Millisecond))
	eventually(t, 5*time.Second, "the 5 units go back at the end", func() bool {
		inv, reserved, sold := units(t, s.product, product, inventory)
		return inv == inventory && reserved == 0 && sold == 0
	})
	if r := svctest.Do(t, "DELETE", fmt.Sprintf("%s/activities/%d", s.activities[0], id), nil); r.Status != 200 {
		t.Fatalf("delete the ended activity: %d %s", r.Status, r.Raw)
	}
	if inv, reserved, sold := units(t, s.product, product, inventory); inv != inventory || reserved != 0 || sold != 0 {
		t.Errorf("after the delete: inventory %d, reserved %d, sold %d", inv, reserved, sold)
	}
	if r := svctest.Do(t, "DELETE", fmt.Sprintf("%s/products/%d", s.product, product), nil); r.Status != 200 {
		t.Errorf("delete the product: %d %s", r.Status, r.Raw)
	}
}
