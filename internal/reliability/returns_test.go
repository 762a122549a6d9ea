package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/devstack"
	"github.com/seckill/seckill/internal/devstack/pgserver"
	"github.com/seckill/seckill/internal/testing/pgtest"
)

// counts reads the activity's committed counts from the database.
func (s *system) counts(id int64) (remaining, paid, returned, released int64) {
	s.t.Helper()
	err := s.pool.QueryRow(context.Background(), `SELECT remaining, paid, returned, released FROM activity.activities WHERE id = $1`, id).
		Scan(&remaining, &paid, &returned, &released)
	if err != nil {
		s.t.Errorf("read counts: %v", err)
	}
	return remaining, paid, returned, released
}

// settleOrders pays or cancels each order as its buyer, retrying while the
// order service is down.
func (s *system) settleOrders(op string, orders map[int64]string) {
	var wg sync.WaitGroup
	for u, oid := range orders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok := poll(30*time.Second, func() bool {
				code, _ := s.post(s.order.URL+"/orders/"+oid+"/"+op, fmt.Sprintf(`{"user_id":%d}`, u))
				return code == 200
			})
			if !ok {
				s.t.Errorf("%s order %s of user %d: no 200 within 30s", op, oid, u)
			}
		}()
	}
	wg.Wait()
}

// post sends body to url and returns the status and the answer's status
// field (a purchase's outcome); code 0 means no answer.
func (s *system) post(url, body string) (code int, status string) {
	resp, err := s.client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	var env struct {
		Data struct {
			Status string `json:"status"`
		} `json:"data"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&env)
	return resp.StatusCode, env.Data.Status
}

// TestCrash_KilledWhileUnitsAreReturned: 100 winners; 40 pay, 30 cancel and
// 30 let the order expire. The order service is SIGKILLed just after the
// cancellations, with their settlements in its outbox, and comes back at
// once; then the activity service (the receiver), which stays down while
// the sweeper expires the others. Every returned unit is counted once: 60 back on sale,
// never 59 or 61. Then a second activity instance joins and the two resell
// exactly the 60 units.
func TestCrash_KilledWhileUnitsAreReturned(t *testing.T) {
	s := newSystem(t, pgtest.NewDB(t), "ORDER_PAYMENT_TIMEOUT=6s", "ORDER_SWEEP_INTERVAL=100ms", "AFTER_SALE_INTERVAL=200ms")
	const stock = 100
	id := s.sale(stock)
	// The orders, and their payment deadlines, start after the crowd: on a
	// busy machine it may take longer than the payment timeout.
	s.order.Kill()
	c := newCrowd(s, id, 1_000)
	c.run(context.Background())
	s.restart(s.order)
	s.verify(id, stock, c)
	won := s.byUser(`SELECT user_id, order_id::text FROM activity.winners WHERE activity_id = $1`, id)
	take := func(n int) map[int64]string {
		out := map[int64]string{}
		for u, o := range won {
			if len(out) == n {
				break
			}
			out[u] = o
			delete(won, u)
		}
		return out
	}
	paying, cancelling := take(40), take(30)

	s.settleOrders("pay", paying)
	s.settleOrders("cancel", cancelling)
	s.order.Kill()
	_, _, returned, _ := s.counts(id)
	t.Logf("order service SIGKILLed after the cancellations, with %d of 30 returns counted by the activity service", returned)
	s.restart(s.order)
	// The receiver goes down while the restarted order service reports
	// what its predecessor left, and stays down while the unpaid orders
	// expire: their returns wait in the order service's outbox.
	s.activity.Kill()
	_, _, returned, _ = s.counts(id)
	t.Logf("activity service SIGKILLed with %d of 30 cancellations counted", returned)
	waitFor(t, 30*time.Second, "the sweeper expires the 30 unpaid orders", func() bool {
		var n int
		_ = s.pool.QueryRow(context.Background(), `SELECT count(*) FROM orders.orders WHERE status = 'expired'`).Scan(&n)
		return n == 30
	})
	var waiting int
	_ = s.pool.QueryRow(context.Background(), `SELECT count(*) FROM orders.orders WHERE status <> 'created' AND settled_reported_at IS NULL`).Scan(&waiting)
	t.Logf("%d settlements wait in the order service's outbox; the activity service comes back", waiting)
	s.restart(s.activity)
	waitFor(t, 30*time.Second, "every return is counted", func() bool {
		_, _, r, _ := s.counts(id)
		return r >= 60
	})
	// The outboxes drain: nothing more arrives, and nothing twice.
	waitFor(t, 30*time.Second, "the order service reports everything", func() bool {
		var left int
		_ = s.pool.QueryRow(context.Background(), `SELECT count(*) FROM orders.orders WHERE status <> 'created' AND settled_reported_at IS NULL`).Scan(&left)
		return left == 0
	})
	remaining, paid, returned, released := s.counts(id)
	if remaining != 60 || paid != 40 || returned != 60 || released != 0 {
		t.Errorf("remaining %d, paid %d, returned %d, released %d; want 60, 40, 60, 0", remaining, paid, returned, released)
	}
	var settled = map[string]int{}
	rows, err := s.pool.Query(context.Background(), `SELECT coalesce(settled, 'none'), count(*) FROM activity.winners WHERE activity_id = $1 GROUP BY 1`, id)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		settled[k] = n
	}
	if want := map[string]int{"paid": 40, "cancelled": 30, "expired": 30}; fmt.Sprint(settled) != fmt.Sprint(want) {
		t.Errorf("wins by settlement: %v, want %v", settled, want)
	}

	// A second instance joins; the two resell the 60 units, and the 60
	// forfeited users cannot win them back.
	port, err := pgserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	second := &devstack.Proc{Name: "activity", Path: s.activity.Path, URL: fmt.Sprintf("http://127.0.0.1:%d", port),
		Env: append(append([]string{}, s.activity.Env...), fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", port))}
	second.ReadyURL = second.URL + "/readyz"
	if err := second.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Kill)
	urls := []string{fmt.Sprintf("%s/activities/%d/seckill", s.activity.URL, id), fmt.Sprintf("%s/activities/%d/seckill", second.URL, id)}
	var mu sync.Mutex
	newWins, forfeitedAnswers := 0, 0
	var wg sync.WaitGroup
	users := make(chan int64)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range users {
				code, status := s.post(urls[u%2], fmt.Sprintf(`{"user_id":%d}`, u))
				mu.Lock()
				switch {
				case code == 200 && status == "won":
					newWins++
				case code == 200 && status == "forfeited":
					forfeitedAnswers++
				case code != 200 || (status != "sold_out" && status != "already_won"):
					t.Errorf("user %d: %d %s", u, code, status)
				}
				mu.Unlock()
			}
		}()
	}
	for u := range cancelling {
		users <- u
	}
	for u := range won { // the 30 whose orders expired
		users <- u
	}
	for u := int64(50_001); u <= 51_000; u++ {
		users <- u
		users <- u
	}
	close(users)
	wg.Wait()
	if newWins != 60 || forfeitedAnswers != 60 {
		t.Errorf("resale: %d new wins and %d forfeited answers, want 60 and 60", newWins, forfeitedAnswers)
	}
	var winners int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM activity.winners WHERE activity_id = $1`, id).Scan(&winners); err != nil {
		t.Fatal(err)
	}
	if remaining, _, _, _ := s.counts(id); winners != 160 || remaining != 0 {
		t.Errorf("%d winner rows and remaining %d after the resale, want 160 and 0", winners, remaining)
	}
}
