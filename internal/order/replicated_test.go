package order_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/seckill/seckill/internal/order"
	"github.com/seckill/seckill/internal/testing/pgtest"
	"github.com/seckill/seckill/internal/testing/svctest"
)

// TestOrder_PayAndCancelNeverGuess pays one order and cancels another while
// every commit waits for a synchronous standby that never comes, past the
// handler's timeout: the commits are cut off with their outcome unknown
// (each is in fact committed locally, on the leader only). Each answer is
// a 503 that says the outcome is unknown, with Retry-After, within the
// handler's time; so are the repeated requests and a GET while the stall
// lasts, since the state they would read is not on the standby. Once the
// stall ends, the same requests answer what happened: paid, cancelled.
func TestOrder_PayAndCancelNeverGuess(t *testing.T) {
	stall := pgtest.NewStall(t)
	const handlerTimeout = 5 * time.Second
	base := svctest.Start(t, order.Run, map[string]string{"DATABASE_URL": stall.URL, "MIGRATE_ON_START": "false",
		"HTTP_HANDLER_TIMEOUT": handlerTimeout.String()}).URL

	// The orders are written as committed before the stall: through the
	// session that does not wait for the standby.
	const payer, canceller = 11, 12
	ids := map[int64]uuid.UUID{payer: uuid.New(), canceller: uuid.New()}
	for user, id := range ids {
		_, err := stall.Local.Exec(context.Background(), `INSERT INTO orders.orders (id, user_id, activity_id, product_id, quantity, price, pay_by)
			VALUES ($1, $2, 1, 3, 1, 9.99, now() + interval '1 hour')`, id, user)
		if err != nil {
			t.Fatal(err)
		}
	}
	type request struct {
		name, method, url string
		user              int64
		body              any
		want              string // the status the order ends in
	}
	requests := []request{
		{"Pay", "POST", base + "/orders/" + ids[payer].String() + "/pay", payer, map[string]any{"user_id": payer}, "paid"},
		{"Cancel", "POST", base + "/orders/" + ids[canceller].String() + "/cancel", canceller, map[string]any{"user_id": canceller}, "cancelled"},
	}
	// each sends every request at once and checks each answer with check.
	each := func(t *testing.T, rs []request, check func(t *testing.T, r request, resp svctest.Response, took time.Duration)) {
		var wg sync.WaitGroup
		for _, r := range rs {
			wg.Go(func() {
				t.Run(r.name, func(t *testing.T) {
					start := time.Now()
					resp := svctest.DoAs(t, "", r.method, r.url, r.body)
					check(t, r, resp, time.Since(start))
				})
			})
		}
		wg.Wait()
	}
	unknown := func(t *testing.T, _ request, resp svctest.Response, took time.Duration) {
		svctest.CheckError(t, resp, 503)
		if !strings.Contains(resp.Body["message"].(string), "unknown") {
			t.Errorf("the 503 does not say the outcome is unknown: %s", resp.Raw)
		}
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("the 503 has no Retry-After: %s", resp.Raw)
		}
		if took > handlerTimeout+time.Second {
			t.Errorf("answered after %v with a handler timeout of %v", took, handlerTimeout)
		}
	}

	t.Run("Stalled", func(t *testing.T) {
		each(t, requests, unknown)
	})
	t.Run("CommittedOnTheLeaderOnly", func(t *testing.T) {
		for _, r := range requests {
			waitFor(t, 10*time.Second, r.name+"'s change committed locally", func() bool { return status(t, stall.Local, ids[r.user]) == r.want })
		}
	})
	t.Run("RepeatedWhileStalled", func(t *testing.T) {
		// The order now reads paid or cancelled on the leader, but no
		// standby has it: the repeat must not answer from it.
		each(t, requests, unknown)
		start := time.Now()
		resp := svctest.DoAs(t, "", "GET", base+"/orders/"+ids[payer].String(), nil)
		svctest.CheckError(t, resp, 503)
		if took := time.Since(start); took > handlerTimeout+time.Second {
			t.Errorf("GET answered after %v with a handler timeout of %v", took, handlerTimeout)
		}
	})

	stall.End(t)
	t.Run("RepeatedAfterTheStall", func(t *testing.T) {
		each(t, requests, func(t *testing.T, r request, resp svctest.Response, _ time.Duration) {
			if resp.Status != 200 || resp.Data()["status"] != r.want || resp.Data()["id"] != ids[r.user].String() {
				t.Errorf("%s again: %d %s; want 200 and status %s", r.name, resp.Status, resp.Raw, r.want)
			}
		})
		resp := svctest.DoAs(t, "", "GET", base+"/orders/"+ids[payer].String(), nil)
		if resp.Status != 200 || resp.Data()["status"] != "paid" {
			t.Errorf("GET: %d %s; want 200, paid", resp.Status, resp.Raw)
		}
	})
}
