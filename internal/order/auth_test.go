package order_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/order"
	"github.com/seckill/seckill/internal/testing/pgtest"
	"github.com/seckill/seckill/internal/testing/svctest"
)

// Only services create orders: not an anonymous caller, not a buyer, not
// even an administrator; the refused requests write nothing.
func TestAuth_OnlyServicesCreateOrders(t *testing.T) {
	pool, url := pgtest.NewPool(t)
	base := svctest.Start(t, order.Run, map[string]string{"DATABASE_URL": url, "USER_JWT_SECRET": svctest.UserSecret}).URL
	buyer := svctest.BuyerToken(t, svctest.UserSecret, 5555, time.Hour)
	svctest.CheckGuarded(t, []svctest.Guarded{
		{Method: "POST", URL: base + "/orders", Body: newOrder(5555, 51), Token: svctest.ServiceToken, Others: []string{svctest.AdminToken, buyer}},
		{Method: "POST", URL: base + "/orders/batch", Body: map[string]any{"orders": []map[string]any{newOrder(7, 51)}},
			Token: svctest.ServiceToken, Others: []string{svctest.AdminToken, buyer}},
	}, func() string { return pgtest.Rows(t, pool, "orders.orders") })
}

// With USER_JWT_SECRET set, a buyer sees, pays and cancels only its own
// orders; an administrator reads everyone's; tokens that are expired,
// signed with another secret or not tokens at all are refused.
func TestAuth_BuyersActOnTheirOwnOrders(t *testing.T) {
	pool, url := pgtest.NewPool(t)
	base := svctest.Start(t, order.Run, map[string]string{"DATABASE_URL": url, "USER_JWT_SECRET": svctest.UserSecret}).URL
	mine, theirs := newOrder(1, 1), newOrder(2, 1)
	for _, o := range []map[string]any{mine, theirs, newOrder(1, 2)} {
		if r := svctest.DoAs(t, svctest.ServiceToken, "POST", base+"/orders", o); r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Raw)
		}
	}
	me := svctest.BuyerToken(t, svctest.UserSecret, 1, time.Hour)
	state := func() string { return pgtest.Rows(t, pool, "orders.orders") }
	before := state()

	t.Run("ListsOnlyItsOwn", func(t *testing.T) {
		for _, q := range []string{"", "?activity_id=1", "?user_id=1"} {
			r := svctest.DoAs(t, me, "GET", base+"/orders"+q, nil)
			items, _ := r.Body["data"].([]any)
			if r.Status != 200 || len(items) == 0 {
				t.Fatalf("GET /orders%s: %d %s", q, r.Status, r.Raw)
			}
			for _, it := range items {
				if u := svctest.Int(it.(map[string]any)["user_id"]); u != 1 {
					t.Errorf("GET /orders%s shows user %d's order to user 1", q, u)
				}
			}
		}
		svctest.CheckDenied(t, svctest.DoAs(t, me, "GET", base+"/orders?user_id=2", nil), 403)
		svctest.CheckDenied(t, svctest.DoAs(t, "", "GET", base+"/orders?activity_id=1", nil), 401)
		if r := svctest.Do(t, "GET", base+"/orders?activity_id=1", nil); r.Status != 200 || len(r.Body["data"].([]any)) != 2 {
			t.Errorf("the administrator's GET /orders?activity_id=1: %d %s", r.Status, r.Raw)
		}
	})
	t.Run("OthersOrdersAreRefused", func(t *testing.T) {
		other := base + "/orders/" + theirs["id"].(string)
		svctest.CheckDenied(t, svctest.DoAs(t, me, "GET", other, nil), 403)
		svctest.CheckDenied(t, svctest.DoAs(t, me, "POST", other+"/pay", nil), 403)
		svctest.CheckDenied(t, svctest.DoAs(t, me, "POST", other+"/cancel", nil), 403)
		svctest.CheckDenied(t, svctest.DoAs(t, me, "POST", other+"/pay", map[string]any{"user_id": 2}), 403) // naming the other user
		svctest.CheckDenied(t, svctest.Do(t, "POST", other+"/pay", nil), 403)                                // an administrator does not pay for buyers
		if r := svctest.Do(t, "GET", other, nil); r.Status != 200 {
			t.Errorf("the administrator reading an order: %d %s", r.Status, r.Raw)
		}
	})
	t.Run("BadTokens", func(t *testing.T) {
		item := base + "/orders/" + mine["id"].(string)
		for name, tok := range map[string]string{
			"Expired":      svctest.BuyerToken(t, svctest.UserSecret, 1, -time.Minute),
			"WrongSecret":  svctest.BuyerToken(t, "another-secret-0123456789abcdef-xyz", 1, time.Hour),
			"NotAToken":    "a.b.c",
			"ServiceToken": svctest.ServiceToken, // valid, but not a buyer's
		} {
			status := 401
			if name == "ServiceToken" {
				status = 403
			}
			for _, m := range []string{"GET", "POST"} {
				u := item
				if m == "POST" {
					u += "/pay"
				}
				r := svctest.DoAs(t, tok, m, u, nil)
				if r.Status != status {
					t.Errorf("%s: %s %s = %d, want %d: %s", name, m, u, r.Status, status, r.Raw)
				}
			}
		}
		svctest.CheckDenied(t, svctest.DoAs(t, "", "GET", item, nil), 401)
	})
	if after := state(); after != before {
		t.Fatalf("refused requests changed orders:\nbefore %s\nafter  %s", before, after)
	}
	t.Run("PaysAndCancelsItsOwn", func(t *testing.T) {
		item := base + "/orders/" + mine["id"].(string)
		if r := svctest.DoAs(t, me, "POST", item+"/pay", nil); r.Status != 200 || r.Data()["status"] != "paid" {
			t.Fatalf("pay: %d %s", r.Status, r.Raw)
		}
		var second map[string]any
		for _, it := range svctest.DoAs(t, me, "GET", base+"/orders?activity_id=2", nil).Body["data"].([]any) {
			second = it.(map[string]any)
		}
		if r := svctest.DoAs(t, me, "POST", fmt.Sprint(base, "/orders/", second["id"], "/cancel"), nil); r.Status != 200 || r.Data()["status"] != "cancelled" {
			t.Fatalf("cancel: %d %s", r.Status, r.Raw)
		}
	})
}

// In open buyer mode (no USER_JWT_SECRET) a buyer names itself, but listing
// everyone's orders still needs the administrator.
func TestAuth_OpenBuyers(t *testing.T) {
	base, _ := start(t)
	if r := svctest.DoAs(t, svctest.ServiceToken, "POST", base+"/orders", newOrder(3, 1)); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	if r := svctest.DoAs(t, "", "GET", base+"/orders?user_id=3", nil); r.Status != 200 || len(r.Body["data"].([]any)) != 1 {
		t.Errorf("a buyer's own orders: %d %s", r.Status, r.Raw)
	}
	svctest.CheckDenied(t, svctest.DoAs(t, "", "GET", base+"/orders?activity_id=1", nil), 401)
	svctest.CheckDenied(t, svctest.DoAs(t, "", "GET", base+"/orders", nil), 401)
}
