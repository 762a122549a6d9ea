package activity_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seckill/seckill/internal/activity"
	"github.com/seckill/seckill/internal/product"
	"github.com/seckill/seckill/internal/testing/pgtest"
	"github.com/seckill/seckill/internal/testing/svctest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

type stack struct {
	dbURL   string
	pool    *pgxpool.Pool
	product string
	env     map[string]string
}

// newStack starts a product service on a fresh database and returns what an
// activity service needs to join it.
func newStack(t *testing.T) *stack {
	t.Helper()
	pool, url := pgtest.NewPool(t)
	p := svctest.Start(t, product.Run, map[string]string{"DATABASE_URL": url})
	return &stack{dbURL: url, pool: pool, product: p.URL, env: map[string]string{
		"DATABASE_URL":        url,
		"PRODUCT_SERVICE_URL": p.URL,
		// No order service in these tests: the relay retries quietly.
		"ORDER_SERVICE_URL": "http://127.0.0.1:1",
	}}
}

func (s *stack) activity(t *testing.T) *svctest.Service {
	t.Helper()
	return svctest.Start(t, activity.Run, s.env)
}

// sale creates a product and an activity open from a minute ago.
func (s *stack) sale(t *testing.T, base string, stock int) int64 {
	t.Helper()
	r := svctest.Do(t, "POST", s.product+"/products", map[string]any{"name": fmt.Sprintf("item-%d", time.Now().UnixNano()), "price": 5.5, "inventory": stock})
	if r.Status != 201 {
		t.Fatalf("create product: %d %s", r.Status, r.Raw)
	}
	pid := svctest.Int(r.Data()["id"])
	r = svctest.Do(t, "POST", base+"/activities", map[string]any{"name": "sale", "product_id": pid, "stock": stock,
		"start_time": time.Now().Add(-time.Minute).Format(time.RFC3339), "end_time": time.Now().Add(time.Hour).Format(time.RFC3339)})
	if r.Status != 201 {
		t.Fatalf("create activity: %d %s", r.Status, r.Raw)
	}
	return svctest.Int(r.Data()["id"])
}

type answer struct {
	status, orderID string
	code            int
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}

func buy(t *testing.T, base string, id, user int64) answer {
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/activities/%d/seckill", base, id), strings.NewReader(fmt.Sprintf(`{"user_id":%d}`, user)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("user %d: %v", user, err)
		return answer{}
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Status  string `json:"status"`
			OrderID string `json:"order_id"`
			Won     bool   `json:"won"`
		} `json:"data"`
	}
	if err := decodeJSON(resp, &body); err != nil {
		t.Errorf("user %d: %v", user, err)
	}
	return answer{status: body.Data.Status, orderID: body.Data.OrderID, code: resp.StatusCode}
}

// crowd sends two concurrent requests for each user in [from, to) through
// bases (round-robin per request) and returns every answer.
func crowd(t *testing.T, bases []string, id int64, from, to int64) map[int64][2]answer {
	t.Helper()
	out := make(map[int64][2]answer, to-from)
	var mu sync.Mutex
	users := make(chan int64)
	var wg sync.WaitGroup
	var n atomic.Int64
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range users {
				var pair [2]answer
				var inner sync.WaitGroup
				for k := range 2 {
					inner.Add(1)
					go func() {
						defer inner.Done()
						pair[k] = buy(t, bases[int(n.Add(1))%len(bases)], id, u)
					}()
				}
				inner.Wait()
				mu.Lock()
				out[u] = pair
				mu.Unlock()
			}
		}()
	}
	for u := from; u < to; u++ {
		users <- u
	}
	close(users)
	wg.Wait()
	return out
}

// check asserts the sale's invariants over every answer and the database.
func check(t *testing.T, s *stack, id int64, stock int, answers map[int64][2]answer) {
	t.Helper()
	won := map[int64]string{}
	for u, pair := range answers {
		a, b := pair[0], pair[1]
		if a.code != 200 || b.code != 200 {
			t.Errorf("user %d: HTTP %d, %d", u, a.code, b.code)
			continue
		}
		if b.status == "won" {
			a, b = b, a
		}
		switch {
		case a.status == "won":
			won[u] = a.orderID
			if b.status != "already_won" || b.orderID != a.orderID {
				t.Errorf("user %d won %s but the other answer was %s %s", u, a.orderID, b.status, b.orderID)
			}
		case a.status == "already_won" && b.status == "already_won" && a.orderID == b.orderID:
			won[u] = a.orderID // won before these requests (a restart test's earlier phase)
		case a.status == "sold_out" && b.status == "sold_out":
		default:
			t.Errorf("user %d: answers %s, %s", u, a.status, b.status)
		}
	}
	ctx := context.Background()
	var winners, remaining int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM activity.winners WHERE activity_id = $1`, id).Scan(&winners); err != nil {
		t.Fatal(err)
	}
	if err := s.pool.QueryRow(ctx, `SELECT remaining FROM activity.activities WHERE id = $1`, id).Scan(&remaining); err != nil {
		t.Fatal(err)
	}
	if winners != int64(stock) || remaining != 0 {
		t.Errorf("database: %d winners, remaining %d; want %d, 0", winners, remaining, stock)
	}
	for u, oid := range won {
		var got string
		err := s.pool.QueryRow(ctx, `SELECT order_id::text FROM activity.winners WHERE activity_id = $1 AND user_id = $2`, id, u).Scan(&got)
		if err != nil || got != oid {
			t.Errorf("user %d was told %s; database has %q (%v)", u, oid, got, err)
		}
	}
}

func countWon(answers map[int64][2]answer) int {
	n := 0
	for _, p := range answers {
		if p[0].status == "won" || p[1].status == "won" {
			n++
		}
	}
	return n
}

func TestSeckill_ExactlyStockWinners(t *testing.T) {
	s := newStack(t)
	a := s.activity(t)
	const stock, users = 100, 10_000
	id := s.sale(t, a.URL, stock)
	answers := crowd(t, []string{a.URL}, id, 1, users+1)
	if got := countWon(answers); got != stock {
		t.Errorf("won answers = %d, want %d", got, stock)
	}
	check(t, s, id, stock, answers)

	r := svctest.Do(t, "GET", fmt.Sprintf("%s/activities/%d/stats", a.URL, id), nil)
	if d := r.Data(); svctest.Int(d["sold"]) != stock || svctest.Int(d["remaining"]) != 0 || svctest.Int(d["stock"]) != stock {
		t.Errorf("stats: %s", r.Raw)
	}
	t.Logf("%d users x 2 requests: %d won, every other answer sold_out or already_won", users, stock)

	resp, err := http.Get(a.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`seckill_outcomes_total{service="activity",status="won"} 100`,
		`seckill_outcomes_total{service="activity",status="already_won"} 100`,
		`http_requests_total{method="POST",route="/activities/{id}/seckill",service="activity",status="200"} 20000`,
		`seckill_commit_batch_size_count{service="activity"}`,
		`relay_backlog{service="activity"} 100`,
		fmt.Sprintf(`seckill_activity_stock{activity_id="%d",service="activity"} 100`, id),
		fmt.Sprintf(`seckill_activity_remaining{activity_id="%d",service="activity"} 0`, id),
	} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestSeckill_TwoInstancesShareOneDatabase(t *testing.T) {
	s := newStack(t)
	a, b := s.activity(t), s.activity(t)
	const stock, users = 100, 10_000
	id := s.sale(t, a.URL, stock)
	answers := crowd(t, []string{a.URL, b.URL}, id, 1, users+1)
	if got := countWon(answers); got != stock {
		t.Errorf("won answers = %d, want %d", got, stock)
	}
	check(t, s, id, stock, answers)
}

func TestSeckill_RestartMidSale(t *testing.T) {
	s := newStack(t)
	a := s.activity(t)
	const stock = 100
	id := s.sale(t, a.URL, stock)
	// Phase one: 40 users, all win.
	first := crowd(t, []string{a.URL}, id, 1, 41)
	if got := countWon(first); got != 40 {
		t.Fatalf("phase one: %d won, want 40", got)
	}
	if err := a.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	b := s.activity(t)
	// Everyone told "won" before the restart is still a winner after it.
	for u, pair := range first {
		for _, ans := range pair {
			if ans.status != "won" {
				continue
			}
			o := svctest.Do(t, "GET", fmt.Sprintf("%s/activities/%d/seckill/%d", b.URL, id, u), nil).Data()
			if o["won"] != true || o["order_id"] != ans.orderID {
				t.Errorf("user %d after restart: %v, want won with %s", u, o, ans.orderID)
			}
		}
	}
	// A user with no win is told the sale is open while units remain.
	if o := svctest.Do(t, "GET", fmt.Sprintf("%s/activities/%d/seckill/%d", b.URL, id, 500_000), nil).Data(); o["status"] != "open" || o["won"] != false {
		t.Errorf("outcome of a user with no win mid-sale: %v, want open", o)
	}
	// Phase two on the new process: the same users again, then a crowd.
	again := crowd(t, []string{b.URL}, id, 1, 41)
	for u, pair := range again {
		if pair[0].status != "already_won" || pair[1].status != "already_won" {
			t.Errorf("user %d after restart: %s, %s; want already_won", u, pair[0].status, pair[1].status)
		}
	}
	second := crowd(t, []string{b.URL}, id, 41, 10_001)
	if got := countWon(second); got != stock-40 {
		t.Errorf("phase two: %d won, want %d", got, stock-40)
	}
	for u, p := range again {
		second[u] = p
	}
	check(t, s, id, stock, second)
	// Once the stock is gone, a user with no win is told sold_out, as the
	// purchase would answer.
	if o := svctest.Do(t, "GET", fmt.Sprintf("%s/activities/%d/seckill/%d", b.URL, id, 500_000), nil).Data(); o["status"] != "sold_out" || o["won"] != false {
		t.Errorf("outcome of a user with no win after the sale: %v, want sold_out", o)
	}
}

func TestSeckill_TimeWindow(t *testing.T) {
	s := newStack(t)
	a := s.activity(t)
	r := svctest.Do(t, "POST", s.product+"/products", map[string]any{"name": "w", "price": 1, "inventory": 10})
	pid := svctest.Int(r.Data()["id"])
	for _, tc := range []struct {
		name       string
		start, end time.Time
		// endLater, when set, moves the end there after the creation: an
		// activity cannot be created already over.
		endLater time.Time
		want     string
	}{
		{"NotStarted", time.Now().Add(time.Hour), time.Now().Add(2 * time.Hour), time.Time{}, "not_started"},
		{"Ended", time.Now().Add(-2 * time.Hour), time.Now().Add(time.Hour), time.Now().Add(-time.Hour), "ended"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := svctest.Do(t, "POST", a.URL+"/activities", map[string]any{"name": tc.name, "product_id": pid, "stock": 5,
				"start_time": tc.start.Format(time.RFC3339), "end_time": tc.end.Format(time.RFC3339)})
			if r.Status != 201 {
				t.Fatalf("create: %d %s", r.Status, r.Raw)
			}
			id := svctest.Int(r.Data()["id"])
			if !tc.endLater.IsZero() {
				r := svctest.Do(t, "PUT", fmt.Sprintf("%s/activities/%d", a.URL, id), map[string]any{"end_time": tc.endLater.Format(time.RFC3339)})
				if r.Status != 200 {
					t.Fatalf("move the end: %d %s", r.Status, r.Raw)
				}
			}
			if got := buy(t, a.URL, id, 1); got.status != tc.want || got.code != 200 {
				t.Errorf("answer = %+v, want %s", got, tc.want)
			}
			// The outcome lookup says the user has nothing, with the
			// status the purchase answered.
			o := svctest.Do(t, "GET", fmt.Sprintf("%s/activities/%d/seckill/1", a.URL, id), nil)
			if got := o.Data()["status"]; o.Status != 200 || got != tc.want || o.Data()["won"] != false {
				t.Errorf("outcome = %d %s, want status %s", o.Status, o.Raw, tc.want)
			}
			var n int64
			_ = s.pool.QueryRow(context.Background(), `SELECT count(*) FROM activity.winners WHERE activity_id = $1`, id).Scan(&n)
			if n != 0 {
				t.Errorf("%d winners written, want none", n)
			}
		})
	}
}

func TestActivity_CRUD(t *testing.T) {
	s := newStack(t)
	a := s.activity(t)
	r := svctest.Do(t, "POST", s.product+"/products", map[string]any{"name": "crud", "price": 12.34, "inventory": 10})
	pid := svctest.Int(r.Data()["id"])
	start, end := time.Now().Add(time.Hour), time.Now().Add(2*time.Hour)
	r = svctest.Do(t, "POST", a.URL+"/activities", map[string]any{"name": "later", "product_id": pid, "stock": 4,
		"start_time": start.Format(time.RFC3339), "end_time": end.Format(time.RFC3339)})
	if r.Status != 201 || !strings.Contains(string(r.Raw), `"price":12.34`) {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	id := svctest.Int(r.Data()["id"])
	item := fmt.Sprintf("%s/activities/%d", a.URL, id)
	productOf := func() map[string]any {
		return svctest.Do(t, "GET", fmt.Sprintf("%s/products/%d", s.product, pid), nil).Data()
	}
	if p := productOf(); svctest.Int(p["inventory"]) != 6 || svctest.Int(p["reserved"]) != 4 {
		t.Errorf("after create, product = %v; want inventory 6, reserved 4", p)
	}

	r = svctest.Do(t, "GET", item, nil)
	if prod, _ := r.Data()["product"].(map[string]any); r.Status != 200 || prod["name"] != "crud" {
		t.Errorf("get does not embed the product: %s", r.Raw)
	}
	r = svctest.Do(t, "PUT", item, `{"stock":7}`)
	if r.Status != 200 || svctest.Int(r.Data()["stock"]) != 7 || svctest.Int(r.Data()["remaining"]) != 7 {
		t.Fatalf("update stock: %d %s", r.Status, r.Raw)
	}
	if p := productOf(); svctest.Int(p["inventory"]) != 3 || svctest.Int(p["reserved"]) != 7 {
		t.Errorf("after update, product = %v; want inventory 3, reserved 7", p)
	}
	svctest.CheckError(t, svctest.Do(t, "PUT", item, `{"stock":11}`), 409) // more than the product has
	r = svctest.Do(t, "GET", a.URL+"/activities?limit=10", nil)
	if r.Status != 200 || svctest.Int(r.Body["pagination"].(map[string]any)["total"]) != 1 {
		t.Errorf("list: %s", r.Raw)
	}
	if r := svctest.Do(t, "DELETE", item, nil); r.Status != 200 {
		t.Fatalf("delete: %d %s", r.Status, r.Raw)
	}
	if p := productOf(); svctest.Int(p["inventory"]) != 10 || svctest.Int(p["reserved"]) != 0 {
		t.Errorf("after delete, product = %v; want inventory 10, reserved 0", p)
	}

	t.Run("FrozenOnceStarted", func(t *testing.T) {
		id := s.sale(t, a.URL, 3)
		item := fmt.Sprintf("%s/activities/%d", a.URL, id)
		svctest.CheckError(t, svctest.Do(t, "PUT", item, `{"stock":2}`), 409)
		if r := svctest.Do(t, "PUT", item, `{"name":"renamed"}`); r.Status != 200 {
			t.Errorf("rename: %d %s", r.Status, r.Raw)
		}
		if got := buy(t, a.URL, id, 9); got.status != "won" {
			t.Fatalf("buy: %+v", got)
		}
		svctest.CheckError(t, svctest.Do(t, "DELETE", item, nil), 409)
	})
}

func TestActivity_BadInput(t *testing.T) {
	s := newStack(t)
	a := s.activity(t)
	id := s.sale(t, a.URL, 5)
	item := fmt.Sprintf("%s/activities/%d", a.URL, id)
	buyURL := item + "/seckill"
	now := time.Now()
	valid := func(mut func(m map[string]any)) map[string]any {
		m := map[string]any{"name": "x", "product_id": 1, "stock": 1, "start_time": now.Format(time.RFC3339), "end_time": now.Add(time.Hour).Format(time.RFC3339)}
		mut(m)
		return m
	}
	for _, tc := range []struct {
		name, method, url string
		body              any
		status            int
	}{
		{"SeckillNoBody", "POST", buyURL, ``, 400},
		{"SeckillMalformed", "POST", buyURL, `{"user_id":`, 400},
		{"SeckillMissingUser", "POST", buyURL, `{}`, 400},
		{"SeckillZeroUser", "POST", buyURL, `{"user_id":0}`, 400},
		{"SeckillNegativeUser", "POST", buyURL, `{"user_id":-3}`, 400},
		{"SeckillStringUser", "POST", buyURL, `{"user_id":"3"}`, 400},
		{"SeckillFractionUser", "POST", buyURL, `{"user_id":3.5}`, 400},
		{"SeckillOverflowUser", "POST", buyURL, `{"user_id":99999999999999999999}`, 400},
		{"SeckillUnknownField", "POST", buyURL, `{"user_id":3,"x":1}`, 400},
		{"SeckillTrailing", "POST", buyURL, `{"user_id":3}{"user_id":4}`, 400},
		{"SeckillLeadingZero", "POST", buyURL, `{"user_id":03}`, 400},
		{"SeckillOversize", "POST", buyURL, `{"user_id":3,"pad":"` + strings.Repeat("x", 2<<20) + `"}`, 413},
		{"SeckillDuplicateUser", "POST", buyURL, `{"user_id":3,"user_id":4}`, 400},
		{"SeckillDuplicateUserOtherCase", "POST", buyURL, `{"user_id":3,"User_Id":4}`, 400},
		{"SeckillInvalidUTF8", "POST", buyURL, "{\"user_id\":3,\"x\":\"\xff\"}", 400},
		{"SeckillSignedActivityID", "POST", a.URL + "/activities/+1/seckill", `{"user_id":3}`, 400},
		{"SeckillLeadingZeroActivityID", "POST", a.URL + "/activities/01/seckill", `{"user_id":3}`, 400},
		{"OutcomeSignedUser", "GET", item + "/seckill/+3", nil, 400},
		{"CreateInvalidUTF8Name", "POST", a.URL + "/activities", "{\"name\":\"\xc3\x28\",\"product_id\":1,\"stock\":1}", 400},
		{"ListRepeatedOffset", "GET", a.URL + "/activities?offset=1&offset=2", nil, 400},
		{"SeckillUnknownActivity", "POST", a.URL + "/activities/987654/seckill", `{"user_id":3}`, 404},
		{"SeckillBadActivityID", "POST", a.URL + "/activities/abc/seckill", `{"user_id":3}`, 400},
		{"OutcomeBadUser", "GET", item + "/seckill/abc", nil, 400},
		{"OutcomeUnknownActivity", "GET", a.URL + "/activities/987654/seckill/1", nil, 404},
		{"StatsUnknown", "GET", a.URL + "/activities/987654/stats", nil, 404},
		{"GetUnknown", "GET", a.URL + "/activities/987654", nil, 404},
		{"CreateUnknownProduct", "POST", a.URL + "/activities", valid(func(m map[string]any) { m["product_id"] = 987654 }), 400},
		{"CreateTooMuchStock", "POST", a.URL + "/activities", valid(func(m map[string]any) { m["product_id"] = 1; m["stock"] = 1000 }), 409},
		{"CreateZeroStock", "POST", a.URL + "/activities", valid(func(m map[string]any) { m["stock"] = 0 }), 400},
		{"CreateEndBeforeStart", "POST", a.URL + "/activities", valid(func(m map[string]any) { m["end_time"] = now.Add(-time.Hour).Format(time.RFC3339) }), 400},
		{"CreateAlreadyEnded", "POST", a.URL + "/activities", valid(func(m map[string]any) {
			m["start_time"], m["end_time"] = now.Add(-2*time.Hour).Format(time.RFC3339), now.Add(-time.Hour).Format(time.RFC3339)
		}), 400},
		{"CreateEndAtStart", "POST", a.URL + "/activities", valid(func(m map[string]any) { m["end_time"] = m["start_time"] }), 400},
		{"CreateBadTime", "POST", a.URL + "/activities", valid(func(m map[string]any) { m["start_time"] = "tomorrow" }), 400},
		{"CreateMissingTimes", "POST", a.URL + "/activities", `{"name":"x","product_id":1,"stock":1}`, 400},
		{"CreateUnknownField", "POST", a.URL + "/activities", valid(func(m map[string]any) { m["color"] = "red" }), 400},
		{"UpdateEmpty", "PUT", item, `{}`, 400},
		{"UpdateUnknown", "PUT", a.URL + "/activities/987654", `{"name":"y"}`, 404},
		{"DeleteUnknown", "DELETE", a.URL + "/activities/987654", nil, 404},
		{"BadPage", "GET", a.URL + "/activities?limit=1000", nil, 400},
		{"MethodNotAllowed", "PATCH", item, `{"name":"y"}`, 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := svctest.AdminToken
			if strings.HasSuffix(tc.url, "/seckill") {
				token = "" // a buyer, in open buyer mode
			}
			svctest.CheckError(t, svctest.DoAs(t, token, tc.method, tc.url, tc.body), tc.status)
		})
	}
	// Messages name the field and say what it expects, in the client's terms.
	for _, tc := range []struct {
		name       string
		body       any
		field, msg string
	}{
		{"BadTime", valid(func(m map[string]any) { m["start_time"] = "tomorrow" }), "start_time", "must be an RFC 3339 time such as 2030-01-02T15:04:05Z"},
		{"AlreadyEnded", valid(func(m map[string]any) {
			m["start_time"], m["end_time"] = now.Add(-2*time.Hour).Format(time.RFC3339), now.Add(-time.Hour).Format(time.RFC3339)
		}), "end_time", "must be in the future"},
		{"EndAtStart", valid(func(m map[string]any) { m["end_time"] = m["start_time"] }), "end_time", "must be after start_time"},
	} {
		r := svctest.Do(t, "POST", a.URL+"/activities", tc.body)
		fields, _ := r.Body["fields"].(map[string]any)
		if got := fields[tc.field]; got != tc.msg || strings.Contains(string(r.Raw), "2006") {
			t.Errorf("%s: fields[%s] = %v, want %q (body %s)", tc.name, tc.field, got, tc.msg, r.Raw)
		}
	}
	if r := svctest.Do(t, "PATCH", item, nil); r.Header.Get("Allow") != "GET, PUT, DELETE" {
		t.Errorf("405 with Allow %q, want %q", r.Header.Get("Allow"), "GET, PUT, DELETE")
	}
	var acts, winners int64
	_ = s.pool.QueryRow(context.Background(), `SELECT count(*) FROM activity.activities`).Scan(&acts)
	_ = s.pool.QueryRow(context.Background(), `SELECT count(*) FROM activity.winners`).Scan(&winners)
	if acts != 1 || winners != 0 {
		t.Errorf("after bad input: %d activities, %d winners; want 1, 0", acts, winners)
	}
}

// The seckill endpoint reads only JSON: a form or text/plain body, which a
// browser sends across origins unasked, is refused with 415 and buys
// nothing.
func TestSeckill_ContentType(t *testing.T) {
	s := newStack(t)
	a := s.activity(t)
	id := s.sale(t, a.URL, 5)
	for ct, want := range map[string]int{"text/plain;charset=UTF-8": 415, "application/x-www-form-urlencoded": 415, "application/json": 200, "": 200} {
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/activities/%d/seckill", a.URL, id), strings.NewReader(`{"user_id":1}`))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Content-Type %q: %d, want %d", ct, resp.StatusCode, want)
		}
	}
	var n int64
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM activity.winners`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d winners (%v), want the one JSON buyer", n, err)
	}
}

func TestSeckill_RateLimits(t *testing.T) {
	// limited checks a 429 with the envelope and a Retry-After the limits
	// below make at least a few seconds.
	limited := func(t *testing.T, r svctest.Response) {
		t.Helper()
		svctest.CheckError(t, r, 429)
		if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 {
			t.Errorf("Retry-After = %q, want a whole number of seconds >= 1", r.Header.Get("Retry-After"))
		}
	}
	t.Run("PerUser", func(t *testing.T) {
		s := newStack(t)
		s.env["RATE_LIMIT_USER_RPS"] = "0.001"
		s.env["RATE_LIMIT_USER_BURST"] = "2"
		a := s.activity(t)
		id := s.sale(t, a.URL, 5)
		url := fmt.Sprintf("%s/activities/%d/seckill", a.URL, id)
		for i := range 2 {
			if r := svctest.DoAs(t, "", "POST", url, `{"user_id":1}`); r.Status != 200 {
				t.Fatalf("request %d: %d %s", i+1, r.Status, r.Raw)
			}
		}
		limited(t, svctest.DoAs(t, "", "POST", url, `{"user_id":1}`))
		if r := svctest.DoAs(t, "", "POST", url, `{"user_id":2}`); r.Status != 200 {
			t.Errorf("another user was limited: %d %s", r.Status, r.Raw)
		}
		// The allowance is per sale: user 1 spent it in this one only.
		other := fmt.Sprintf("%s/activities/%d/seckill", a.URL, s.sale(t, a.URL, 5))
		if r := svctest.DoAs(t, "", "POST", other, `{"user_id":1}`); r.Status != 200 {
			t.Errorf("user 1 was limited in another activity: %d %s", r.Status, r.Raw)
		}
	})
	t.Run("PerAddress", func(t *testing.T) {
		s := newStack(t)
		s.env["RATE_LIMIT_IP_RPS"] = "0.001"
		s.env["RATE_LIMIT_IP_BURST"] = "3"
		a := s.activity(t)
		id := s.sale(t, a.URL, 5)
		url := fmt.Sprintf("%s/activities/%d/seckill", a.URL, id)
		for u := range 3 {
			if r := svctest.DoAs(t, "", "POST", url, fmt.Sprintf(`{"user_id":%d}`, u+1)); r.Status != 200 {
				t.Fatalf("user %d: %d %s", u+1, r.Status, r.Raw)
			}
		}
		// A fourth user from the same address is over the address's limit,
		// and claiming another address in X-Forwarded-For changes nothing.
		limited(t, svctest.DoAs(t, "", "POST", url, `{"user_id":4}`))
		req, _ := http.NewRequest("POST", url, strings.NewReader(`{"user_id":5}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 429 {
			t.Errorf("with X-Forwarded-For: %d, want 429 (the header is not trusted)", resp.StatusCode)
		}
		// Nothing was sold to the limited requests.
		var winners int64
		if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM activity.winners WHERE activity_id = $1`, id).Scan(&winners); err != nil {
			t.Fatal(err)
		}
		if winners != 3 {
			t.Errorf("%d winners, want the 3 users let through", winners)
		}
	})
}

// TestSeckill_EditsMidSaleKeepTheCount renames the activity and moves its
// end while it sells: what was sold stays sold, and the sale still ends
// with exactly stock winners. (An edit used to write remaining = stock and
// sell the stock a second time.)
func TestSeckill_EditsMidSaleKeepTheCount(t *testing.T) {
	s := newStack(t)
	a := s.activity(t)
	const stock = 20
	id := s.sale(t, a.URL, stock)
	first := crowd(t, []string{a.URL}, id, 1, 11) // 10 users: 10 winners
	if got := countWon(first); got != 10 {
		t.Fatalf("%d of the first 10 users won, want all", got)
	}
	for _, edit := range []map[string]any{
		{"name": "renamed mid-sale"},
		{"end_time": time.Now().Add(2 * time.Hour).Format(time.RFC3339)},
	} {
		r := svctest.Do(t, "PUT", fmt.Sprintf("%s/activities/%d", a.URL, id), edit)
		if r.Status != 200 {
			t.Fatalf("PUT %v: %d %s", edit, r.Status, r.Raw)
		}
		if got := svctest.Int(r.Data()["remaining"]); got != 10 {
			t.Errorf("after PUT %v remaining = %d, want 10", edit, got)
		}
	}
	rest := crowd(t, []string{a.URL}, id, 11, 2*stock*100)
	if got := countWon(rest); got != 10 {
		t.Errorf("%d more users won after the edits, want 10", got)
	}
	for u, p := range first {
		rest[u] = p
	}
	check(t, s, id, stock, rest)
}

// TestActivity_FailedCommitLeavesReservationsMatching makes the database
// refuse the commit of every write to activities (a deferred trigger), after
// the product service was already called: creating, editing and deleting an
// activity must each leave the product's reservations as the database says
// the activity is.
func TestActivity_FailedCommitLeavesReservationsMatching(t *testing.T) {
	s := newStack(t)
	a := s.activity(t)
	ctx := context.Background()
	newProduct := func() int64 {
		r := svctest.Do(t, "POST", s.product+"/products", map[string]any{"name": fmt.Sprintf("p-%d", time.Now().UnixNano()), "price": 1, "inventory": 100})
		if r.Status != 201 {
			t.Fatalf("create product: %d %s", r.Status, r.Raw)
		}
		return svctest.Int(r.Data()["id"])
	}
	reserved := func(pid int64) int64 {
		return svctest.Int(svctest.Do(t, "GET", fmt.Sprintf("%s/products/%d", s.product, pid), nil).Data()["reserved"])
	}
	refuseCommits := func(on bool) {
		q := `DROP TRIGGER IF EXISTS refuse_commit ON activity.activities`
		if on {
			q = `CREATE OR REPLACE FUNCTION activity.refuse_commit() RETURNS trigger LANGUAGE plpgsql AS
				'BEGIN RAISE EXCEPTION ''commit refused by the test''; END';
				CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT OR UPDATE OR DELETE ON activity.activities
				DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION activity.refuse_commit()`
		}
		if _, err := s.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now().Add(time.Hour)
	body := func(pid int64, stock int) map[string]any {
		return map[string]any{"name": "later", "product_id": pid, "stock": stock,
			"start_time": start.Format(time.RFC3339), "end_time": start.Add(time.Hour).Format(time.RFC3339)}
	}

	p1, p2 := newProduct(), newProduct()
	refuseCommits(true)
	if r := svctest.Do(t, "POST", a.URL+"/activities", body(p1, 30)); r.Status < 400 {
		t.Fatalf("create with the commit refused: %d %s", r.Status, r.Raw)
	}
	if got := reserved(p1); got != 0 {
		t.Errorf("create refused at commit: product reserves %d, want 0", got)
	}
	refuseCommits(false)

	r := svctest.Do(t, "POST", a.URL+"/activities", body(p1, 30))
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	id := svctest.Int(r.Data()["id"])
	refuseCommits(true)
	for _, edit := range []map[string]any{{"stock": 50}, {"product_id": p2}, {"product_id": p2, "stock": 10}} {
		if r := svctest.Do(t, "PUT", fmt.Sprintf("%s/activities/%d", a.URL, id), edit); r.Status < 400 {
			t.Fatalf("PUT %v with the commit refused: %d %s", edit, r.Status, r.Raw)
		}
		if got1, got2 := reserved(p1), reserved(p2); got1 != 30 || got2 != 0 {
			t.Errorf("PUT %v refused at commit: products reserve %d and %d, want 30 and 0", edit, got1, got2)
		}
	}
	if r := svctest.Do(t, "DELETE", fmt.Sprintf("%s/activities/%d", a.URL, id), nil); r.Status < 400 {
		t.Fatalf("DELETE with the commit refused: %d %s", r.Status, r.Raw)
	}
	if got := reserved(p1); got != 30 {
		t.Errorf("DELETE refused at commit: product reserves %d, want 30", got)
	}
	refuseCommits(false)

	// And with commits allowed again, the same requests go through.
	if r := svctest.Do(t, "PUT", fmt.Sprintf("%s/activities/%d", a.URL, id), map[string]any{"product_id": p2, "stock": 10}); r.Status != 200 {
		t.Fatalf("PUT: %d %s", r.Status, r.Raw)
	}
	if got1, got2 := reserved(p1), reserved(p2); got1 != 0 || got2 != 10 {
		t.Errorf("after the move: products reserve %d and %d, want 0 and 10", got1, got2)
	}
	if r := svctest.Do(t, "DELETE", fmt.Sprintf("%s/activities/%d", a.URL, id), nil); r.Status != 200 {
		t.Fatalf("DELETE: %d %s", r.Status, r.Raw)
	}
	if got := reserved(p2); got != 0 {
		t.Errorf("after the delete: product reserves %d, want 0", got)
	}
}
