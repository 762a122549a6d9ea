package product_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/seckill/seckill/internal/testing/svctest"
)

// counts reads a product's inventory, reserved and sold.
func counts(t *testing.T, item string) [3]int64 {
	t.Helper()
	p := svctest.Do(t, "GET", item, nil).Data()
	return [3]int64{svctest.Int(p["inventory"]), svctest.Int(p["reserved"]), svctest.Int(p["sold"])}
}

func TestProduct_SettleMovesUnitsAndKeepsTheSum(t *testing.T) {
	base := start(t)
	const initial = 50
	id := create(t, base, "Lamp", initial)
	item := fmt.Sprintf("%s/products/%d", base, id)
	settle := item + "/reservations/7/settlement"
	sum := func(c [3]int64) int64 { return c[0] + c[1] + c[2] }
	if r := svctest.DoAs(t, svctest.ServiceToken, "POST", item+"/reservations", `{"activity_id":7,"quantity":20}`); r.Status != 201 {
		t.Fatalf("reserve: %d %s", r.Status, r.Raw)
	}

	t.Run("PaidUnitsMoveFromReservedToSold", func(t *testing.T) {
		r := svctest.DoAs(t, svctest.ServiceToken, "PUT", settle, `{"sold":6,"released":0}`)
		if r.Status != 200 || svctest.Int(r.Data()["sold"]) != 6 {
			t.Fatalf("settle: %d %s", r.Status, r.Raw)
		}
		if got, want := counts(t, item), [3]int64{30, 14, 6}; got != want {
			t.Errorf("inventory, reserved, sold = %v, want %v", got, want)
		}
	})
	t.Run("RepeatedAndStaleReportsChangeNothing", func(t *testing.T) {
		for _, body := range []string{`{"sold":6,"released":0}`, `{"sold":2,"released":0}`, `{"sold":0,"released":0}`} {
			if r := svctest.DoAs(t, svctest.ServiceToken, "PUT", settle, body); r.Status != 200 || svctest.Int(r.Data()["sold"]) != 6 {
				t.Fatalf("%s: %d %s", body, r.Status, r.Raw)
			}
		}
		if got, want := counts(t, item), [3]int64{30, 14, 6}; got != want {
			t.Errorf("inventory, reserved, sold = %v, want %v", got, want)
		}
	})
	t.Run("ConcurrentReportsSettleEachUnitOnce", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := fmt.Sprintf(`{"sold":%d,"released":%d}`, 6+i%5, i%3)
				if r := svctest.DoAs(t, svctest.ServiceToken, "PUT", settle, body); r.Status != 200 {
					t.Errorf("%s: %d %s", body, r.Status, r.Raw)
				}
				if c := counts(t, item); sum(c) != initial {
					t.Errorf("inventory + reserved + sold = %d mid-way, want %d", sum(c), initial)
				}
			}()
		}
		wg.Wait()
		if got, want := counts(t, item), [3]int64{32, 8, 10}; got != want {
			t.Errorf("inventory, reserved, sold = %v, want %v", got, want)
		}
	})
	t.Run("MoreThanReservedIsRefused", func(t *testing.T) {
		svctest.CheckError(t, svctest.DoAs(t, svctest.ServiceToken, "PUT", settle, `{"sold":15,"released":6}`), 409)
		svctest.CheckError(t, svctest.DoAs(t, svctest.ServiceToken, "POST", item+"/reservations", `{"activity_id":7,"quantity":11}`), 409)
	})
	t.Run("BadInput", func(t *testing.T) {
		for _, tc := range []struct {
			url, body string
			status    int
		}{
			{settle, `{"sold":-1,"released":0}`, 400},
			{settle, `{"sold":1}`, 400},
			{settle, `{"sold":1,"released":0,"x":1}`, 400},
			{settle, `{"sold":"1","released":0}`, 400},
			{item + "/reservations/8/settlement", `{"sold":1,"released":0}`, 404},
			{base + "/products/999/reservations/7/settlement", `{"sold":1,"released":0}`, 404},
			{item + "/reservations/x/settlement", `{"sold":1,"released":0}`, 400},
		} {
			svctest.CheckError(t, svctest.DoAs(t, svctest.ServiceToken, "PUT", tc.url, tc.body), tc.status)
		}
		if got, want := counts(t, item), [3]int64{32, 8, 10}; got != want {
			t.Errorf("inventory, reserved, sold = %v after bad input, want %v", got, want)
		}
	})
	t.Run("OnlyServicesSettle", func(t *testing.T) {
		svctest.CheckDenied(t, svctest.DoAs(t, "", "PUT", settle, `{"sold":20,"released":0}`), 401)
		svctest.CheckDenied(t, svctest.Do(t, "PUT", settle, `{"sold":20,"released":0}`), 403) // the admin token is not a service token
		if got, want := counts(t, item), [3]int64{32, 8, 10}; got != want {
			t.Errorf("inventory, reserved, sold = %v after refused settlements, want %v", got, want)
		}
	})
	t.Run("DeletableOnceNothingIsHeld", func(t *testing.T) {
		svctest.CheckError(t, svctest.Do(t, "DELETE", item, nil), 409)
		if r := svctest.DoAs(t, svctest.ServiceToken, "PUT", settle, `{"sold":10,"released":10}`); r.Status != 200 {
			t.Fatalf("settle the rest: %d %s", r.Status, r.Raw)
		}
		if got, want := counts(t, item), [3]int64{40, 0, 10}; got != want {
			t.Errorf("inventory, reserved, sold = %v, want %v", got, want)
		}
		if r := svctest.Do(t, "DELETE", item, nil); r.Status != 200 {
			t.Errorf("delete: %d %s", r.Status, r.Raw)
		}
	})
}
