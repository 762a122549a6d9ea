package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/testing/pgtest"
)

// injections are classic SQL injection strings, with quotes of every kind,
// backslashes, comments, stacked statements and non-ASCII text.
var injections = []string{
	"'; DROP TABLE product.products; --",
	"1 OR 1=1",
	`" OR ""="`,
	"Robert'); DROP TABLE orders.orders;--",
	`\'; SELECT pg_sleep(5); --`,
	"名前' UNION SELECT * FROM activity.winners --",
	"$1; DELETE FROM activity.activities",
	`C:\new\table\\' OR '1'='1`,
	"Ωmega ≠ 😀 \u202eRTL\u202c ' --",
	"%27%20OR%201%3D1",
	"\t' OR 'a'='a\n",
	"1); TRUNCATE activity.winners; SELECT (1",
}

// injectionCall sends in (JSON unless it is a string, sent as is) and
// returns the status and the decoded data. An answer slower than a few
// seconds fails the test: pg_sleep(5) would have run.
func injectionCall(t *testing.T, method, u string, in, out any) int {
	t.Helper()
	var body io.Reader
	switch b := in.(type) {
	case nil:
	case string:
		body = bytes.NewReader([]byte(b))
	default:
		raw, _ := json.Marshal(b)
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	req.Header.Set("Content-Type", "application/json")
	authorize(req)
	start := time.Now()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	if took := time.Since(start); took > 4500*time.Millisecond {
		t.Errorf("%s %s took %s: did an injected pg_sleep run?", method, u, took)
	}
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, &struct {
			Data any `json:"data"`
		}{Data: out}); err != nil {
			t.Fatalf("%s %s: %v in %s", method, u, err, raw)
		}
	}
	if resp.StatusCode >= 400 {
		var env struct {
			Error      string `json:"error"`
			StatusCode int    `json:"status_code"`
		}
		if json.Unmarshal(raw, &env) != nil || env.StatusCode != resp.StatusCode || env.Error == "" {
			t.Errorf("%s %s: %d without the error envelope: %s", method, u, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode
}

// schemaTables lists the tables of the services' schemas.
func (s *system) schemaTables() []string {
	s.t.Helper()
	rows, err := s.pool.Query(context.Background(), `SELECT table_schema || '.' || table_name FROM information_schema.tables
		WHERE table_schema IN ('product', 'activity', 'orders') ORDER BY 1`)
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			s.t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

func (s *system) count(table string) int {
	s.t.Helper()
	var n int
	// table is one of the constant names below, never input.
	if err := s.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		s.t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// TestInjection_TextIsStoredLiterally sends classic injection strings in
// every text field (created and updated), every query parameter and every
// path id of the three services. Text fields store the string exactly as
// sent; numeric parameters and ids answer 400 (or 404 for a path that no
// longer matches a route) in the error envelope; no request is slow; and
// afterwards every table exists with exactly the rows the test made.
func TestInjection_TextIsStoredLiterally(t *testing.T) {
	s := newSystem(t, pgtest.NewDB(t))
	tables := s.schemaTables()
	if len(tables) < 5 {
		t.Fatalf("tables before the test: %v", tables)
	}
	P, A, O := s.product.URL, s.activity.URL, s.order.URL
	now := time.Now()
	window := map[string]any{"start_time": now.Add(-time.Minute).Format(time.RFC3339), "end_time": now.Add(time.Hour).Format(time.RFC3339)}
	stored, refused := 0, 0
	for i, inj := range injections {
		// Product name and description, on create and on update.
		var p struct {
			ID                int64
			Name, Description string
		}
		name := fmt.Sprintf("%s #%d", inj, i)
		if code := injectionCall(t, "POST", P+"/products", map[string]any{"name": name, "description": inj, "price": 1, "inventory": 5}, &p); code != 201 {
			t.Fatalf("create product named %q: %d", name, code)
		}
		pu := fmt.Sprintf("%s/products/%d", P, p.ID)
		var got struct{ Name, Description string }
		injectionCall(t, "GET", pu, nil, &got)
		if p.Name != name || got.Name != name || got.Description != inj {
			t.Errorf("product stored as %q / %q, sent %q / %q", got.Name, got.Description, name, inj)
		}
		name2, desc2 := fmt.Sprintf("v2 %s #%d", inj, i), inj+inj
		if code := injectionCall(t, "PUT", pu, map[string]any{"name": name2, "description": desc2}, nil); code != 200 {
			t.Fatalf("update product to %q: %d", name2, code)
		}
		injectionCall(t, "GET", pu, nil, &got)
		if got.Name != name2 || got.Description != desc2 {
			t.Errorf("product updated to %q / %q, sent %q / %q", got.Name, got.Description, name2, desc2)
		}
		stored += 4

		// Activity name, on create and on update.
		var a struct {
			ID   int64
			Name string
		}
		body := map[string]any{"name": inj, "product_id": p.ID, "stock": 1}
		for k, v := range window {
			body[k] = v
		}
		if code := injectionCall(t, "POST", A+"/activities", body, &a); code != 201 {
			t.Fatalf("create activity named %q: %d", inj, code)
		}
		au := fmt.Sprintf("%s/activities/%d", A, a.ID)
		var ga struct{ Name string }
		injectionCall(t, "GET", au, nil, &ga)
		if ga.Name != inj {
			t.Errorf("activity name stored as %q, sent %q", ga.Name, inj)
		}
		if code := injectionCall(t, "PUT", au, map[string]any{"name": "v2 " + inj}, nil); code != 200 {
			t.Fatalf("update activity name to %q: %d", "v2 "+inj, code)
		}
		injectionCall(t, "GET", au, nil, &ga)
		if ga.Name != "v2 "+inj {
			t.Errorf("activity name updated to %q, sent %q", ga.Name, "v2 "+inj)
		}
		stored += 2
		// One real purchase, so winners and orders hold rows to lose.
		var won struct{ Status string }
		if code := injectionCall(t, "POST", au+"/seckill", map[string]any{"user_id": i + 1}, &won); code != 200 || won.Status != "won" {
			t.Fatalf("purchase in activity %d: %d %q", a.ID, code, won.Status)
		}

		// Text where a number belongs: refused with 400 in the envelope.
		q, pe := url.QueryEscape(inj), url.PathEscape(inj)
		for _, c := range []struct {
			method, url string
			body        any
		}{
			{"GET", P + "/products?limit=" + q, nil},
			{"GET", P + "/products?offset=" + q, nil},
			{"GET", A + "/activities?limit=" + q, nil},
			{"GET", A + "/activities?offset=" + q, nil},
			{"GET", O + "/orders?limit=" + q, nil},
			{"GET", O + "/orders?offset=" + q, nil},
			{"GET", O + "/orders?user_id=" + q, nil},
			{"GET", O + "/orders?activity_id=" + q, nil},
			{"GET", O + "/orders?activity_id=1&user_id=" + q, nil},
			{"POST", au + "/seckill", map[string]any{"user_id": inj}},
			{"POST", au + "/seckill", `{"user_id":` + inj + `}`},
			{"POST", pu + "/reservations", map[string]any{"activity_id": inj, "quantity": 1}},
			{"POST", O + "/orders", map[string]any{"id": inj, "user_id": 1, "activity_id": 1, "product_id": 1, "quantity": 1, "price": 1}},
			{"POST", A + "/activities", map[string]any{"name": "x", "product_id": inj, "stock": 1}},
		} {
			if code := injectionCall(t, c.method, c.url, c.body, nil); code != 400 {
				t.Errorf("%s %s %v = %d, want 400", c.method, c.url, c.body, code)
			}
			refused++
		}
		// Injection strings as path ids: refused with a 4xx.
		for _, c := range []struct{ method, url string }{
			{"GET", P + "/products/" + pe}, {"PUT", P + "/products/" + pe}, {"DELETE", P + "/products/" + pe},
			{"POST", P + "/products/" + pe + "/reservations"}, {"DELETE", pu + "/reservations/" + pe},
			{"GET", A + "/activities/" + pe}, {"PUT", A + "/activities/" + pe}, {"DELETE", A + "/activities/" + pe},
			{"POST", A + "/activities/" + pe + "/seckill"}, {"GET", au + "/seckill/" + pe}, {"GET", A + "/activities/" + pe + "/stats"},
			{"GET", O + "/orders/" + pe}, {"POST", O + "/orders/" + pe + "/pay"}, {"POST", O + "/orders/" + pe + "/cancel"},
			{"PUT", pu + "/reservations/" + pe + "/settlement"},
		} {
			var body any
			switch c.method {
			case "PUT":
				body = map[string]any{"name": "changed"}
			case "POST":
				body = map[string]any{"user_id": 1, "activity_id": 1, "quantity": 1}
			}
			if code := injectionCall(t, c.method, c.url, body, nil); code < 400 || code >= 500 {
				t.Errorf("%s %s = %d, want a 4xx", c.method, c.url, code)
			}
			refused++
		}
	}

	// A NUL byte is the one character text fields refuse.
	for _, c := range []struct{ url, body string }{
		{P + "/products", `{"name":"nul\u0000'; DROP TABLE product.products; --","price":1,"inventory":1}`},
		{P + "/products", `{"name":"ok nul","description":"\u0000","price":1,"inventory":1}`},
		{A + "/activities", `{"name":"\u0000","product_id":1,"stock":1,"start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-02T00:00:00Z"}`},
	} {
		if code := injectionCall(t, "POST", c.url, c.body, nil); code != 400 {
			t.Errorf("POST %s %s = %d, want 400", c.url, c.body, code)
		}
		refused++
	}

	n := len(injections)
	waitFor(t, 30*time.Second, "every win delivered as an order", func() bool { return s.count("orders.orders") == n })
	if got := s.schemaTables(); !slices.Equal(got, tables) {
		t.Errorf("tables after the test: %v, before: %v", got, tables)
	}
	for table, want := range map[string]int{"product.products": n, "product.reservations": n, "activity.activities": n,
		"activity.winners": n, "orders.orders": n} {
		if got := s.count(table); got != want {
			t.Errorf("%s has %d rows, want %d", table, got, want)
		}
	}
	t.Logf("%d injection strings: %d text fields stored and read back literally; %d numeric parameters, ids and NUL texts refused with 4xx envelopes; "+
		"tables intact (%v) with the expected rows (%d per table)", n, stored, refused, tables, n)
}
