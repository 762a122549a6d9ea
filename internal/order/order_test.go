package order_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seckill/seckill/internal/order"
	"github.com/seckill/seckill/internal/testing/pgtest"
	"github.com/seckill/seckill/internal/testing/svctest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func start(t *testing.T) (string, *pgxpool.Pool) {
	t.Helper()
	pool, url := pgtest.NewPool(t)
	return svctest.Start(t, order.Run, map[string]string{"DATABASE_URL": url, "ACTIVITY_SERVICE_URL": "http://127.0.0.1:1"}).URL, pool
}

func newOrder(user, activity int64) map[string]any {
	id, _ := uuid.NewV7()
	return map[string]any{"id": id.String(), "user_id": user, "activity_id": activity, "product_id": 3, "quantity": 1, "price": 9.99}
}

func count(t *testing.T, pool *pgxpool.Pool) int64 {
	var n int64
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM orders.orders`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOrder_CreateIsIdempotent(t *testing.T) {
	base, pool := start(t)
	o := newOrder(1, 1)
	r := svctest.DoAs(t, svctest.ServiceToken, "POST", base+"/orders", o)
	if r.Status != 201 || r.Data()["status"] != "created" || !strings.Contains(string(r.Raw), `"price":9.99`) {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	r2 := svctest.DoAs(t, svctest.ServiceToken, "POST", base+"/orders", o)
	if r2.Status != 200 || r2.Data()["id"] != o["id"] || r2.Data()["created_at"] != r.Data()["created_at"] {
		t.Fatalf("repeat: %d %s", r2.Status, r2.Raw)
	}
	svctest.CheckError(t, svctest.DoAs(t, svctest.ServiceToken, "POST", base+"/orders", newOrder(1, 1)), 409) // another order, same user and activity
	other := newOrder(2, 1)
	other["id"] = o["id"]
	svctest.CheckError(t, svctest.DoAs(t, svctest.ServiceToken, "POST", base+"/orders", other), 409) // same id, other content
	if got := count(t, pool); got != 1 {
		t.Errorf("%d orders, want 1", got)
	}
}

func TestOrder_Batch(t *testing.T) {
	base, pool := start(t)
	var batch []map[string]any
	for u := int64(1); u <= 50; u++ {
		batch = append(batch, newOrder(u, 7))
	}
	r := svctest.DoAs(t, svctest.ServiceToken, "POST", base+"/orders/batch", map[string]any{"orders": batch})
	if r.Status != 200 || svctest.Int(r.Data()["created"]) != 50 {
		t.Fatalf("batch: %d %s", r.Status, r.Raw)
	}
	t.Run("ReplayCreatesNothing", func(t *testing.T) {
		r := svctest.DoAs(t, svctest.ServiceToken, "POST", base+"/orders/batch", map[string]any{"orders": batch})
		if r.Status != 200 || svctest.Int(r.Data()["existing"]) != 50 || svctest.Int(r.Data()["created"]) != 0 {
			t.Fatalf("replay: %d %s", r.Status, r.Raw)
		}
		if got := count(t, pool); got != 50 {
			t.Errorf("%d orders after replay, want 50", got)
		}
	})
	t.Run("OneConflictDoesNotFailTheOthers", func(t *testing.T) {
		mixed := []map[string]any{newOrder(1, 7), newOrder(100, 7), newOrder(101, 7)}
		r := svctest.DoAs(t, svctest.ServiceToken, "POST", base+"/orders/batch", map[string]any{"orders": mixed})
		d := r.Data()
		results, _ := d["results"].([]any)
		if r.Status != 200 || svctest.Int(d["conflicts"]) != 1 || svctest.Int(d["created"]) != 2 || len(results) != 3 ||
			results[0].(map[string]any)["status"] != "conflict" {
			t.Fatalf("mixed batch: %d %s", r.Status, r.Raw)
		}
	})
	t.Run("OneInvalidOrderFailsTheWholeBatch", func(t *testing.T) {
		bad := newOrder(200, 7)
		bad["user_id"] = 0
		r := svctest.DoAs(t, svctest.ServiceToken, "POST", base+"/orders/batch", map[string]any{"orders": []map[string]any{newOrder(201, 7), bad}})
		svctest.CheckError(t, r, 400)
		if !strings.Contains(string(r.Raw), "orders[1].user_id") {
			t.Errorf("the error does not name the bad item: %s", r.Raw)
		}
		if got := count(t, pool); got != 52 {
			t.Errorf("%d orders, want 52", got)
		}
	})
}

func TestOrder_ConcurrentIdenticalBatches(t *testing.T) {
	base, pool := start(t)
	var batch []map[string]any
	for u := int64(1); u <= 200; u++ {
		batch = append(batch, newOrder(u, 9))
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := svctest.DoAs(t, svctest.ServiceToken, "POST", base+"/orders/batch", map[string]any{"orders": batch}); r.Status != 200 {
				t.Errorf("batch: %d %s", r.Status, r.Raw)
			}
		}()
	}
	wg.Wait()
	if got := count(t, pool); got != 200 {
		t.Errorf("%d orders, want 200", got)
	}
}

func TestOrder_ListAndPay(t *testing.T) {
	base, _ := start(t)
	for u := int64(1); u <= 3; u++ {
		svctest.DoAs(t, svctest.ServiceToken, "POST", base+"/orders", newOrder(u, 1))
	}
	o := newOrder(1, 2)
	svctest.DoAs(t, svctest.ServiceToken, "POST", base+"/orders", o)
	r := svctest.Do(t, "GET", base+"/orders?user_id=1&limit=1", nil)
	if page, _ := r.Body["pagination"].(map[string]any); r.Status != 200 || svctest.Int(page["total"]) != 2 {
		t.Fatalf("list by user: %d %s", r.Status, r.Raw)
	}
	r = svctest.Do(t, "GET", base+"/orders?activity_id=1", nil)
	if items, _ := r.Body["data"].([]any); len(items) != 3 {
		t.Fatalf("list by activity: %s", r.Raw)
	}
	item := base + "/orders/" + o["id"].(string)
	buyer := map[string]any{"user_id": 1}
	if r := svctest.DoAs(t, "", "POST", item+"/pay", buyer); r.Status != 200 || r.Data()["status"] != "paid" {
		t.Fatalf("pay: %d %s", r.Status, r.Raw)
	}
	if r := svctest.DoAs(t, "", "POST", item+"/pay", buyer); r.Status != 200 || r.Data()["status"] != "paid" {
		t.Fatalf("pay again: %d %s", r.Status, r.Raw)
	}
	// No route removes an order: each one carries a win.
	svctest.CheckError(t, svctest.DoAs(t, "", "DELETE", item, nil), 405)
	if r := svctest.Do(t, "GET", item, nil); r.Status != 200 || r.Data()["status"] != "paid" {
		t.Fatalf("get after delete: %d %s", r.Status, r.Raw)
	}
}

// caller is the credential a well-formed request to the route would carry:
// the service token to create orders, none for a buyer paying or
// cancelling (open buyer mode), the admin token to read.
func caller(method, url string) string {
	switch {
	case method == "POST" && (strings.HasSuffix(url, "/pay") || strings.HasSuffix(url, "/cancel")), method == "DELETE":
		return ""
	case method == "POST":
		return svctest.ServiceToken
	}
	return svctest.AdminToken
}

func TestOrder_BadInput(t *testing.T) {
	base, pool := start(t)
	o := newOrder(1, 1)
	svctest.DoAs(t, svctest.ServiceToken, "POST", base+"/orders", o)
	with := func(k string, v any) map[string]any {
		m := newOrder(5, 5)
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	big := make([]map[string]any, order.MaxBatch+1)
	for i := range big {
		big[i] = newOrder(int64(i+1), 99)
	}
	for _, tc := range []struct {
		name, method, url string
		body              any
		status            int
	}{
		{"Malformed", "POST", base + "/orders", `{"id":`, 400},
		{"UnknownField", "POST", base + "/orders", with("color", "red"), 400},
		{"BadUUID", "POST", base + "/orders", with("id", "not-a-uuid"), 400},
		{"MissingID", "POST", base + "/orders", with("id", nil), 400},
		{"NegativeUser", "POST", base + "/orders", with("user_id", -1), 400},
		{"StringActivity", "POST", base + "/orders", with("activity_id", "1"), 400},
		{"ZeroQuantity", "POST", base + "/orders", with("quantity", 0), 400},
		{"ThreeDecimalPrice", "POST", base + "/orders", with("price", 1.001), 400},
		{"MissingPrice", "POST", base + "/orders", with("price", nil), 400},
		{"EmptyBatch", "POST", base + "/orders/batch", `{"orders":[]}`, 400},
		{"NoBatch", "POST", base + "/orders/batch", `{}`, 400},
		{"TooBigBatch", "POST", base + "/orders/batch", map[string]any{"orders": big}, 400},
		{"OversizeBody", "POST", base + "/orders/batch", `{"orders":[` + strings.Repeat(" ", 2<<20) + `]}`, 413},
		{"GetBadUUID", "GET", base + "/orders/123", nil, 400},
		{"GetUnknown", "GET", base + "/orders/" + uuid.NewString(), nil, 404},
		{"PayUnknown", "POST", base + "/orders/" + uuid.NewString() + "/pay", map[string]any{"user_id": 1}, 404},
		{"PayNoBuyer", "POST", base + "/orders/" + o["id"].(string) + "/pay", nil, 400},
		{"PayZeroBuyer", "POST", base + "/orders/" + o["id"].(string) + "/pay", map[string]any{"user_id": 0}, 400},
		{"PayStringBuyer", "POST", base + "/orders/" + o["id"].(string) + "/pay", map[string]any{"user_id": "1"}, 400},
		{"PayBadUUID", "POST", base + "/orders/x/pay", map[string]any{"user_id": 1}, 400},
		{"CancelUnknown", "POST", base + "/orders/" + uuid.NewString() + "/cancel", map[string]any{"user_id": 1}, 404},
		{"CancelUnknownField", "POST", base + "/orders/" + o["id"].(string) + "/cancel", map[string]any{"user_id": 1, "x": 1}, 400},
		{"Delete", "DELETE", base + "/orders/" + o["id"].(string), nil, 405},
		{"ListBadUser", "GET", base + "/orders?user_id=abc", nil, 400},
		{"ListRepeatedUser", "GET", base + "/orders?user_id=1&user_id=2", nil, 400},
		{"ListSignedUser", "GET", base + "/orders?user_id=+1", nil, 400},
		{"DuplicateKey", "POST", base + "/orders", `{"id":"0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10","user_id":1,"user_id":2,"activity_id":1,"product_id":1,"quantity":1,"price":1}`, 400},
		{"DuplicateKeyInBatch", "POST", base + "/orders/batch", `{"orders":[{"id":"0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d11","user_id":1,"activity_id":1,"product_id":1,"quantity":1,"price":1,"price":0}]}`, 400},
		{"ListNegativeActivity", "GET", base + "/orders?activity_id=-2", nil, 400},
		{"ListBadLimit", "GET", base + "/orders?limit=500", nil, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svctest.CheckError(t, svctest.DoAs(t, caller(tc.method, tc.url), tc.method, tc.url, tc.body), tc.status)
		})
	}
	// A UUID the decoder refuses is named like every other bad field.
	for _, tc := range []struct {
		name, url string
		body      any
		field     string
	}{
		{"BodyUUID", base + "/orders", with("id", "abc"), "id"},
		{"PathUUID", base + "/orders/abc", nil, "id"},
	} {
		// Orders are recorded by the activity service, with its credential.
		r := svctest.DoAs(t, svctest.ServiceToken, "POST", tc.url, tc.body)
		if tc.body == nil {
			r = svctest.Do(t, "GET", tc.url, nil)
		}
		fields, _ := r.Body["fields"].(map[string]any)
		if got, want := fields[tc.field], "must be a UUID such as 0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10"; r.Status != 400 || got != want {
			t.Errorf("%s: %d fields[%s] = %v, want 400 with %q (body %s)", tc.name, r.Status, tc.field, got, want, r.Raw)
		}
	}
	if got := count(t, pool); got != 1 {
		t.Errorf("%d orders after bad input, want 1", got)
	}
	if r := svctest.Do(t, "GET", base+"/orders/"+o["id"].(string), nil); r.Data()["status"] != "created" {
		t.Errorf("the order changed after bad input: %s", r.Raw)
	}
}
