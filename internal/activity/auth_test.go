package activity_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/order"
	"github.com/seckill/seckill/internal/testing/pgtest"
	"github.com/seckill/seckill/internal/testing/svctest"
)

// Administrators create, edit and delete activities; services and buyers
// may not, and a refused request touches neither the activity nor the
// product's reservation. The catalogue and a sale's progress stay public.
func TestAuth_ActivityRoutes(t *testing.T) {
	s := newStack(t)
	a := s.activity(t)
	r := svctest.Do(t, "POST", s.product+"/products", map[string]any{"name": "guarded", "price": 1, "inventory": 20})
	pid := svctest.Int(r.Data()["id"])
	id := s.sale(t, a.URL, 3)
	item := fmt.Sprintf("%s/activities/%d", a.URL, id)
	later := time.Now().Add(time.Hour)
	body := map[string]any{"name": "new", "product_id": pid, "stock": 5,
		"start_time": later.Format(time.RFC3339), "end_time": later.Add(time.Hour).Format(time.RFC3339)}
	state := func() string {
		return pgtest.Rows(t, s.pool, "activity.activities", "activity.winners", "product.products", "product.reservations")
	}
	svctest.CheckGuarded(t, []svctest.Guarded{
		{Method: "POST", URL: a.URL + "/activities", Body: body, Token: svctest.AdminToken, Others: []string{svctest.ServiceToken}},
		{Method: "PUT", URL: item, Body: `{"name":"renamed"}`, Token: svctest.AdminToken, Others: []string{svctest.ServiceToken}},
		{Method: "DELETE", URL: item, Token: svctest.AdminToken, Others: []string{svctest.ServiceToken}},
	}, state)
	other := s.sale(t, a.URL, 3)
	for _, u := range []string{a.URL + "/activities", fmt.Sprintf("%s/activities/%d", a.URL, other), fmt.Sprintf("%s/activities/%d/stats", a.URL, other)} {
		if r := svctest.DoAs(t, "", "GET", u, nil); r.Status != 200 {
			t.Errorf("GET %s without a credential: %d %s", u, r.Status, r.Raw)
		}
	}
}

// The attack the issue reported: before user 5555 bought, anyone recorded
// an order for that user and activity at price 0, and the real order the
// relay delivered after the win was refused as a conflict. Now only the
// relay (with the service token) creates orders, and the one order on disk
// is the real one.
func TestAuth_ForgedOrderIsRefused(t *testing.T) {
	s := newStack(t)
	o := svctest.Start(t, order.Run, map[string]string{"DATABASE_URL": s.dbURL})
	s.env["ORDER_SERVICE_URL"] = o.URL
	s.env["RELAY_INTERVAL"] = "100ms"
	a := s.activity(t)
	id := s.sale(t, a.URL, 5)
	forged := map[string]any{"id": "0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10", "user_id": 5555, "activity_id": id, "product_id": 1,
		"quantity": 1, "price": 0}
	svctest.CheckDenied(t, svctest.DoAs(t, "", "POST", o.URL+"/orders", forged), 401)
	svctest.CheckDenied(t, svctest.Do(t, "POST", o.URL+"/orders", forged), 403) // nor may an administrator
	svctest.CheckDenied(t, svctest.Do(t, "POST", o.URL+"/orders/batch", map[string]any{"orders": []any{forged}}), 403)

	won := buy(t, a.URL, id, 5555)
	if won.status != "won" {
		t.Fatalf("user 5555: %+v", won)
	}
	waitDelivered(t, a.URL, id, 30*time.Second)
	r := svctest.Do(t, "GET", fmt.Sprintf("%s/orders?user_id=5555&activity_id=%d", o.URL, id), nil)
	items, _ := r.Body["data"].([]any)
	if len(items) != 1 {
		t.Fatalf("user 5555's orders: %s", r.Raw)
	}
	got := items[0].(map[string]any)
	if got["id"] != won.orderID || fmt.Sprint(got["price"]) != "5.50" {
		t.Errorf("user 5555's order is %v, want the win's order %s at 5.50", got, won.orderID)
	}
}

// With USER_JWT_SECRET set, a buyer buys and reads its outcome only as the
// user its token names.
func TestAuth_JWTBuyers(t *testing.T) {
	s := newStack(t)
	s.env["USER_JWT_SECRET"] = svctest.UserSecret
	a := s.activity(t)
	id := s.sale(t, a.URL, 5)
	buyURL := fmt.Sprintf("%s/activities/%d/seckill", a.URL, id)
	token := func(user int64) string { return svctest.BuyerToken(t, svctest.UserSecret, user, time.Hour) }
	winners := func() int64 {
		var n int64
		if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM activity.winners`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	for _, tc := range []struct {
		name, token string
		status      int
	}{
		{"NoToken", "", 401},
		{"Expired", svctest.BuyerToken(t, svctest.UserSecret, 7, -time.Second), 401},
		{"WrongSecret", svctest.BuyerToken(t, "not-the-secret-0123456789abcdefghij", 7, time.Hour), 401},
		{"OtherUsersToken", token(8), 403},
		{"AdminToken", svctest.AdminToken, 403},
		{"ServiceToken", svctest.ServiceToken, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svctest.CheckDenied(t, svctest.DoAs(t, tc.token, "POST", buyURL, `{"user_id":7}`), tc.status)
		})
	}
	if n := winners(); n != 0 {
		t.Fatalf("%d winners after refused purchases, want 0", n)
	}
	r := svctest.DoAs(t, token(7), "POST", buyURL, `{"user_id":7}`)
	if r.Status != 200 || r.Data()["status"] != "won" {
		t.Fatalf("user 7 with its token: %d %s", r.Status, r.Raw)
	}
	outcome := fmt.Sprintf("%s/activities/%d/seckill/7", a.URL, id)
	for _, tok := range []string{token(7), svctest.AdminToken} {
		if r := svctest.DoAs(t, tok, "GET", outcome, nil); r.Status != 200 || r.Data()["won"] != true {
			t.Errorf("outcome: %d %s", r.Status, r.Raw)
		}
	}
	svctest.CheckDenied(t, svctest.DoAs(t, token(8), "GET", outcome, nil), 403)
	svctest.CheckDenied(t, svctest.DoAs(t, "", "GET", outcome, nil), 401)
}
