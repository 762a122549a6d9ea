package order_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seckill/seckill/internal/order"
	"github.com/seckill/seckill/internal/testing/pgtest"
	"github.com/seckill/seckill/internal/testing/svctest"
)

// receiver is an activity service's settlement endpoint as the order
// service sees it: it answers every settlement applied the first time and
// existing after, and can be told to fail.
type receiver struct {
	mu      sync.Mutex
	seen    map[string]string // order id → status
	posts   int
	failing bool
	refuse  map[string]bool // order ids answered conflict
}

func newReceiver(t *testing.T) (*receiver, string) {
	rc := &receiver{seen: map[string]string{}, refuse: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(srv.Close)
	return rc, srv.URL
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != "POST" || r.URL.Path != "/activities/settlements" {
		http.NotFound(w, r)
		return
	}
	var in struct {
		Settlements []struct {
			OrderID    string `json:"order_id"`
			ActivityID int64  `json:"activity_id"`
			UserID     int64  `json:"user_id"`
			Status     string `json:"status"`
		} `json:"settlements"`
	}
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.posts++
	if rc.failing {
		w.WriteHeader(503)
		fmt.Fprint(w, `{"code":503,"message":"down","error":"unavailable","status_code":503}`)
		return
	}
	if err := json.Unmarshal(b, &in); err != nil {
		w.WriteHeader(400)
		return
	}
	var res []map[string]any
	for _, s := range in.Settlements {
		st := "applied"
		switch {
		case rc.refuse[s.OrderID]:
			st = "conflict"
		case rc.seen[s.OrderID] != "":
			st = "existing"
		default:
			rc.seen[s.OrderID] = s.Status
		}
		res = append(res, map[string]any{"order_id": s.OrderID, "status": st})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"code": 0, "message": "ok", "data": map[string]any{"results": res}})
}

func (rc *receiver) snapshot() (map[string]string, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	m := make(map[string]string, len(rc.seen))
	for k, v := range rc.seen {
		m[k] = v
	}
	return m, rc.posts
}

func startWith(t *testing.T, url string, env map[string]string) string {
	t.Helper()
	vars := map[string]string{"DATABASE_URL": url, "ORDER_SWEEP_INTERVAL": "50ms", "RELAY_INTERVAL": "50ms"}
	for k, v := range env {
		vars[k] = v
	}
	return svctest.Start(t, order.Run, vars).URL
}

// waitFor polls cond until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metric reads one sample of the service's /metrics, 0 when absent.
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

func status(t *testing.T, pool *pgxpool.Pool, id any) string {
	var s string
	if err := pool.QueryRow(context.Background(), `SELECT status FROM orders.orders WHERE id = $1`, id).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOrder_PayAndCancelByTheBuyer(t *testing.T) {
	pool, url := pgtest.NewPool(t)
	_, recv := newReceiver(t)
	base := startWith(t, url, map[string]string{"ACTIVITY_SERVICE_URL": recv, "ORDER_PAYMENT_TIMEOUT": "90s"})
	mk := func(user int64) (string, map[string]any) {
		o := newOrder(user, 4)
		r := svctest.DoAs(t, svctest.ServiceToken, "POST", base+"/orders", o)
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Raw)
		}
		return base + "/orders/" + o["id"].(string), r.Data()
	}
	buyer := func(u int64) map[string]any { return map[string]any{"user_id": u} }

	t.Run("PayByIsCreationPlusTheTimeout", func(t *testing.T) {
		_, d := mk(1)
		created, err1 := time.Parse(time.RFC3339Nano, d["created_at"].(string))
		payBy, err2 := time.Parse(time.RFC3339Nano, d["pay_by"].(string))
		if err1 != nil || err2 != nil || payBy.Sub(created) != 90*time.Second {
			t.Fatalf("created_at %v, pay_by %v (%v %v), want 90s apart", d["created_at"], d["pay_by"], err1, err2)
		}
	})
	t.Run("AnotherUserIsForbidden", func(t *testing.T) {
		item, d := mk(2)
		svctest.CheckError(t, svctest.DoAs(t, "", "POST", item+"/pay", buyer(3)), 403)
		svctest.CheckError(t, svctest.DoAs(t, "", "POST", item+"/cancel", buyer(3)), 403)
		if got := status(t, pool, d["id"]); got != "created" {
			t.Fatalf("status %s after another user's requests, want created", got)
		}
	})
	t.Run("CancelTwiceAnswersTheSameAndCannotBePaid", func(t *testing.T) {
		item, _ := mk(4)
		r1 := svctest.DoAs(t, "", "POST", item+"/cancel", buyer(4))
		r2 := svctest.DoAs(t, "", "POST", item+"/cancel", buyer(4))
		if r1.Status != 200 || r1.Data()["status"] != "cancelled" || r2.Status != 200 || r2.Data()["updated_at"] != r1.Data()["updated_at"] {
			t.Fatalf("cancel: %d %s; again: %d %s", r1.Status, r1.Raw, r2.Status, r2.Raw)
		}
		svctest.CheckError(t, svctest.DoAs(t, "", "POST", item+"/pay", buyer(4)), 409)
	})
	t.Run("PaidCannotBeCancelled", func(t *testing.T) {
		item, d := mk(5)
		if r := svctest.DoAs(t, "", "POST", item+"/pay", buyer(5)); r.Status != 200 {
			t.Fatalf("pay: %d %s", r.Status, r.Raw)
		}
		svctest.CheckError(t, svctest.DoAs(t, "", "POST", item+"/cancel", buyer(5)), 409)
		if got := status(t, pool, d["id"]); got != "paid" {
			t.Fatalf("status %s, want paid", got)
		}
	})
	t.Run("PayingAfterPayByExpiresTheOrder", func(t *testing.T) {
		item, d := mk(6)
		if _, err := pool.Exec(context.Background(), `UPDATE orders.orders SET pay_by = now() - interval '1 second' WHERE id = $1`, d["id"]); err != nil {
			t.Fatal(err)
		}
		svctest.CheckError(t, svctest.DoAs(t, "", "POST", item+"/pay", buyer(6)), 409)
		if got := status(t, pool, d["id"]); got != "expired" {
			t.Fatalf("status %s after a late payment, want expired", got)
		}
		svctest.CheckError(t, svctest.DoAs(t, "", "POST", item+"/pay", buyer(6)), 409)
		svctest.CheckError(t, svctest.DoAs(t, "", "POST", item+"/cancel", buyer(6)), 409)
	})
	t.Run("ConcurrentPayAndCancelSettleOnce", func(t *testing.T) {
		for u := int64(100); u < 120; u++ {
			item, d := mk(u)
			var wg sync.WaitGroup
			codes := make([]int, 2)
			for i, op := range []string{"/pay", "/cancel"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					codes[i] = svctest.DoAs(t, "", "POST", item+op, buyer(u)).Status
				}()
			}
			wg.Wait()
			got := status(t, pool, d["id"])
			if !(codes[0] == 200 && codes[1] == 409 && got == "paid") && !(codes[0] == 409 && codes[1] == 200 && got == "cancelled") {
				t.Fatalf("pay %d, cancel %d, status %s: want exactly one to win", codes[0], codes[1], got)
			}
		}
	})
	if got := metric(t, base, "orders_settled_total", `service="order",status="expired"`); got != 1 {
		t.Errorf("orders_settled_total{expired} = %v, want 1", got)
	}
}

// TestOrder_SweeperWithSeveralInstances: three order services on one
// database expire every due order exactly once while buyers race them; no
// due order is paid, and every order that is not due can be.
func TestOrder_SweeperWithSeveralInstances(t *testing.T) {
	ctx := context.Background()
	pool, url := pgtest.NewPool(t)
	_, recv := newReceiver(t)
	var bases []string
	for range 3 {
		bases = append(bases, startWith(t, url, map[string]string{"ACTIVITY_SERVICE_URL": recv, "ORDER_PAYMENT_TIMEOUT": "1h"}))
	}
	const n, due = 600, 400
	var batch []map[string]any
	for u := int64(1); u <= n; u++ {
		batch = append(batch, newOrder(u, 11))
	}
	if r := svctest.DoAs(t, svctest.ServiceToken, "POST", bases[0]+"/orders/batch", map[string]any{"orders": batch}); r.Status != 200 {
		t.Fatalf("batch: %d %s", r.Status, r.Raw)
	}
	if _, err := pool.Exec(ctx, `UPDATE orders.orders SET pay_by = now() - interval '1 second' WHERE user_id <= $1`, due); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	paidDue := 0
	for i, o := range batch {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := svctest.DoAs(t, "", "POST", bases[i%3]+"/orders/"+o["id"].(string)+"/pay", map[string]any{"user_id": o["user_id"]})
			isDue := o["user_id"].(int64) <= due
			switch {
			case isDue && r.Status == 200:
				mu.Lock()
				paidDue++
				mu.Unlock()
			case isDue && r.Status != 409, !isDue && r.Status != 200:
				t.Errorf("pay user %v: %d %s", o["user_id"], r.Status, r.Raw)
			}
		}()
	}
	wg.Wait()
	if paidDue > 0 {
		t.Errorf("%d orders past pay_by were paid", paidDue)
	}
	var expired, paid int
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'expired'), count(*) FILTER (WHERE status = 'paid') FROM orders.orders`).Scan(&expired, &paid); err != nil {
		t.Fatal(err)
	}
	if expired != due || paid != n-due {
		t.Fatalf("%d expired and %d paid, want %d and %d", expired, paid, due, n-due)
	}
	// Each expiry was counted by exactly one instance: none expired an
	// order twice.
	var counted float64
	for _, b := range bases {
		counted += metric(t, b, "orders_settled_total", `service="order",status="expired"`)
	}
	if counted != due {
		t.Errorf("the instances counted %v expirations, want %d", counted, due)
	}
}

// TestOrder_SweeperExpiresWithinSeconds: a short payment timeout, and the
// sweeper alone expires the order.
func TestOrder_SweeperExpiresWithinSeconds(t *testing.T) {
	pool, url := pgtest.NewPool(t)
	_, recv := newReceiver(t)
	base := startWith(t, url, map[string]string{"ACTIVITY_SERVICE_URL": recv, "ORDER_PAYMENT_TIMEOUT": "300ms"})
	o := newOrder(1, 1)
	svctest.DoAs(t, svctest.ServiceToken, "POST", base+"/orders", o)
	waitFor(t, 5*time.Second, "the order expires", func() bool { return status(t, pool, o["id"]) == "expired" })
}

// TestSettlements_ReportedUntilConfirmed: every final status reaches the
// activity service, through its outage, and leaves the outbox only when
// confirmed; a refused one leaves it too, with the reason.
func TestSettlements_ReportedUntilConfirmed(t *testing.T) {
	ctx := context.Background()
	pool, url := pgtest.NewPool(t)
	rc, recv := newReceiver(t)
	rc.failing = true
	base := startWith(t, url, map[string]string{"ACTIVITY_SERVICE_URL": recv, "ORDER_PAYMENT_TIMEOUT": "1h"})
	var batch []map[string]any
	for u := int64(1); u <= 30; u++ {
		batch = append(batch, newOrder(u, 3))
	}
	svctest.DoAs(t, svctest.ServiceToken, "POST", base+"/orders/batch", map[string]any{"orders": batch})
	rc.mu.Lock()
	rc.refuse[batch[29]["id"].(string)] = true
	rc.mu.Unlock()
	want := map[string]string{}
	for i, o := range batch {
		op, st := "/pay", "paid"
		if i%2 == 1 {
			op, st = "/cancel", "cancelled"
		}
		if i >= 20 {
			continue // expired below
		}
		if r := svctest.DoAs(t, "", "POST", base+"/orders/"+o["id"].(string)+op, map[string]any{"user_id": o["user_id"]}); r.Status != 200 {
			t.Fatalf("%s: %d %s", op, r.Status, r.Raw)
		}
		want[o["id"].(string)] = st
	}
	if _, err := pool.Exec(ctx, `UPDATE orders.orders SET pay_by = now() WHERE user_id > 20`); err != nil {
		t.Fatal(err)
	}
	for _, o := range batch[20:29] {
		want[o["id"].(string)] = "expired"
	}
	waitFor(t, 5*time.Second, "the relay tries the failing receiver", func() bool { _, p := rc.snapshot(); return p >= 2 })
	rc.mu.Lock()
	rc.failing = false
	rc.mu.Unlock()
	waitFor(t, 10*time.Second, "every settlement is reported", func() bool {
		var left int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM orders.orders WHERE status <> 'created' AND settled_reported_at IS NULL AND settle_error IS NULL`).Scan(&left)
		return left == 0
	})
	seen, _ := rc.snapshot()
	if len(seen) != len(want) {
		t.Errorf("the receiver saw %d settlements, want %d", len(seen), len(want))
	}
	for id, st := range want {
		if seen[id] != st {
			t.Errorf("order %s reported %q, want %q", id, seen[id], st)
		}
	}
	var reason string
	if err := pool.QueryRow(ctx, `SELECT coalesce(settle_error, '') FROM orders.orders WHERE id = $1`, batch[29]["id"]).Scan(&reason); err != nil || reason == "" {
		t.Errorf("the refused settlement has no reason recorded (%v)", err)
	}
}
