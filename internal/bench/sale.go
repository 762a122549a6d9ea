package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Config describes one seckill-bench run.
type Config struct {
	ActivityURL, ProductURL, OrderURL string
	// AdminToken is the ADMIN_TOKEN the services run with: the sale is
	// set up and its orders read as the administrator; buyers send none.
	AdminToken    string
	ActivityID    int64 // 0: create a product and an activity
	Stock         int
	RelayDeadline time.Duration
	// WatchSellout, when positive, polls the activity's stats at that
	// interval during the run, and the report says when they first said
	// the stock was gone (Report.SoldOutAfter).
	WatchSellout time.Duration
	Crowd
}

// Check is one verified promise.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Report is the outcome of a run.
type Report struct {
	ActivityID int64         `json:"activity_id"`
	Users      int           `json:"users"`
	Stock      int           `json:"stock"`
	Conns      int           `json:"conns"`
	Rate       float64       `json:"rate,omitempty"` // requests/s the crowd was paced to; 0: unpaced
	Duration   time.Duration `json:"duration_ns"`
	// SoldOutAfter is the time from the first request until the stats
	// said no unit remained, when the run watched them (Config.WatchSellout):
	// it is late by at most one poll and its answer's latency. Zero when
	// not watched or never seen.
	SoldOutAfter time.Duration `json:"sold_out_after_ns,omitempty"`
	Stats        Stats         `json:"stats"`
	Timeline     []Point       `json:"timeline"`
	Checks       []Check       `json:"checks"`
	OK           bool          `json:"ok"`
}

// Run sets up a sale (unless cfg names one), drives it and verifies it.
func Run(ctx context.Context, cfg Config) (Report, error) {
	client := NewClient(cfg.Conns)
	if cfg.ActivityID == 0 {
		id, err := CreateSale(ctx, client, cfg.AdminToken, cfg.ProductURL, cfg.ActivityURL, "bench", cfg.Stock)
		if err != nil {
			return Report{}, err
		}
		cfg.ActivityID = id
	}
	url := fmt.Sprintf("%s/activities/%d/seckill", cfg.ActivityURL, cfg.ActivityID)
	var sellout <-chan time.Time
	wctx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	if cfg.WatchSellout > 0 {
		sellout = WatchSellout(wctx, client, fmt.Sprintf("%s/activities/%d/stats", cfg.ActivityURL, cfg.ActivityID), cfg.WatchSellout)
	}
	load, err := Drive(ctx, url, cfg.Crowd)
	if err != nil {
		return Report{}, err
	}
	r := Report{ActivityID: cfg.ActivityID, Users: cfg.Users, Stock: cfg.Stock, Conns: cfg.Conns, Rate: cfg.Rate, Duration: load.Duration,
		Stats: load.Summarize(), Timeline: load.Timeline(timelineSlices)}
	var watched []Check
	if sellout != nil {
		at := AwaitSellout(sellout, stopWatching)
		if !at.IsZero() {
			r.SoldOutAfter = at.Sub(load.Start)
		}
		watched = append(watched, Check{Name: "stats said sold out while watched", OK: !at.IsZero(),
			Detail: fmt.Sprintf("stock gone after %.3fs from the first request, polled every %s", r.SoldOutAfter.Seconds(), cfg.WatchSellout)})
	}
	r.Checks = append(Verify(ctx, client, cfg, load), watched...)
	r.OK = true
	for _, c := range r.Checks {
		r.OK = r.OK && c.OK
	}
	return r, nil
}

// timelineSlices is how many points a report's timeline has.
const timelineSlices = 60

// CreateSale creates a product with stock units and an activity selling
// them, open from a second ago for an hour, both named after name; the
// demo, the bench and the reliability tests all set their sales up here, as
// the administrator (admin is ADMIN_TOKEN).
func CreateSale(ctx context.Context, client *http.Client, admin, productURL, activityURL, name string, stock int) (int64, error) {
	var p, a struct{ ID int64 }
	item := fmt.Sprintf("%s item %d", name, time.Now().UnixNano())
	if err := call(ctx, client, admin, "POST", productURL+"/products", map[string]any{"name": item, "price": 9.99, "inventory": stock}, &p); err != nil {
		return 0, fmt.Errorf("create product: %w", err)
	}
	now := time.Now()
	err := call(ctx, client, admin, "POST", activityURL+"/activities", map[string]any{"name": name + " sale", "product_id": p.ID, "stock": stock,
		"start_time": now.Add(-time.Second).Format(time.RFC3339), "end_time": now.Add(time.Hour).Format(time.RFC3339)}, &a)
	if err != nil {
		return 0, fmt.Errorf("create activity: %w", err)
	}
	return a.ID, nil
}

// Verify checks every promise of the sale against the answers and the
// services' own records: exactly stock winners, each told won at most once
// and already_won with the same order id otherwise, never sold_out; every
// other user told sold_out; the stats agree; the relay drains; and the order
// service holds one order per winner with the winner's order id.
//
// When the crowd retried (RetryFor > 0) a request may have stayed without
// an answer, or a 503, past its retries: its outcome is unknown, which is
// allowed, and a winner whose won answer was lost may have learned it as
// already_won. Every answer that did come must still be right.
func Verify(ctx context.Context, client *http.Client, cfg Config, l Load) []Check {
	var checks []Check
	add := func(name string, ok bool, format string, args ...any) {
		checks = append(checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	tolerant := cfg.RetryFor > 0
	winners := map[int64]string{}
	orderIDs := map[string]int64{}
	var badWinners, notOK, unknown, unexpected int
	var firstBad string
	bad := func(counter *int, format string, args ...any) {
		*counter++
		if firstBad == "" {
			firstBad = fmt.Sprintf(format, args...)
		}
	}
	for i, pair := range l.Answers {
		user := l.First + int64(i)
		var won, already, soldOut int
		var oid string
		for _, a := range pair {
			switch {
			case tolerant && (a.Err != nil || a.Code == http.StatusServiceUnavailable):
				unknown++
				continue
			case a.Err != nil || a.Code != http.StatusOK:
				notOK++
				continue
			}
			switch a.Status {
			case "won", "already_won":
				if a.Status == "won" {
					won++
				} else {
					already++
				}
				if oid != "" && a.OrderID != oid {
					bad(&badWinners, "user %d was told order %s and %s", user, oid, a.OrderID)
				}
				oid = a.OrderID
			case "sold_out":
				soldOut++
			default:
				bad(&unexpected, "user %d was answered %q", user, a.Status)
			}
		}
		if won+already > 0 {
			winners[user] = oid
			if prev, dup := orderIDs[oid]; dup {
				bad(&badWinners, "users %d and %d got the same order id %s", prev, user, oid)
			}
			orderIDs[oid] = user
			if won > 1 || soldOut > 0 || (!tolerant && (won != 1 || already != 1)) {
				bad(&badWinners, "user %d: %d won, %d already_won, %d sold_out answers", user, won, already, soldOut)
			}
		}
	}
	if tolerant {
		add("every request answered 200, or unanswered after its retries", notOK == 0,
			"%d requests failed otherwise; %d stayed unknown after %s of retries (allowed)", notOK, unknown, cfg.RetryFor)
		add("winners told <= stock", len(winners) <= cfg.Stock, "%d users told they won, stock %d", len(winners), cfg.Stock)
	} else {
		add("every request answered 200", notOK == 0, "%d requests failed or were not 200", notOK)
		add("wins == stock", len(winners) == cfg.Stock, "%d distinct winners, stock %d", len(winners), cfg.Stock)
	}
	add("winners distinct, each with its own order id", len(orderIDs) == len(winners), "%d order ids for %d winners", len(orderIDs), len(winners))
	add("each winner told won once, already_won with the same order id otherwise, never sold_out", badWinners == 0,
		"%d bad winners %s", badWinners, firstBad)
	add("every other answer is sold_out", unexpected == 0, "%d unexpected answers %s", unexpected, firstBad)

	return append(checks, VerifyRecords(ctx, client, cfg, winners)...)
}

// VerifyRecords checks the services' own records of a sale: the stats say
// every unit sold and none remaining, the relay drains within
// cfg.RelayDeadline, and the order service holds exactly stock orders, one
// per user. When told is not nil (the users told they won, with their order
// ids), each of them must hold the order id they were told. Verify ends with
// it; a run whose answers were not recorded (wrk's) is checked by it alone.
func VerifyRecords(ctx context.Context, client *http.Client, cfg Config, told map[int64]string) []Check {
	var checks []Check
	add := func(name string, ok bool, format string, args ...any) {
		checks = append(checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	var st struct {
		Stock, Sold, Remaining, Undelivered, Failed int64
	}
	statsURL := fmt.Sprintf("%s/activities/%d/stats", cfg.ActivityURL, cfg.ActivityID)
	err := call(ctx, client, "", "GET", statsURL, nil, &st)
	add("stats: sold == stock, remaining 0", err == nil && st.Sold == int64(cfg.Stock) && st.Remaining == 0,
		"stock %d sold %d remaining %d (err %v)", st.Stock, st.Sold, st.Remaining, err)

	// The relay holds back while a sale is in full swing: how long the
	// orders took after the crowd's last answer is part of the story.
	drainStart := time.Now()
	deadline := drainStart.Add(cfg.RelayDeadline)
	for err == nil && (st.Undelivered > 0 || st.Failed > 0) && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-time.After(100 * time.Millisecond):
			err = call(ctx, client, "", "GET", statsURL, nil, &st)
		}
	}
	add("relay drained", err == nil && st.Undelivered == 0 && st.Failed == 0, "undelivered %d failed %d, %s after the last answer (deadline %s, err %v)",
		st.Undelivered, st.Failed, time.Since(drainStart).Round(100*time.Millisecond), cfg.RelayDeadline, err)

	// ListOrders refuses a user with two orders.
	orders, err := ListOrders(ctx, client, cfg.AdminToken, cfg.OrderURL, cfg.ActivityID)
	if told == nil {
		add("orders == stock, one per user", err == nil && len(orders) == cfg.Stock, "%d orders (err %v)", len(orders), err)
		return checks
	}
	same := 0
	for u, oid := range told {
		if orders[u] == oid {
			same++
		}
	}
	add("orders == stock, one per winner with the winner's order id", err == nil && len(orders) == cfg.Stock && same == len(told),
		"%d orders, %d matching the %d winners told (err %v)", len(orders), same, len(told), err)
	return checks
}

// ListOrders reads an activity's orders from the order service, page by
// page, and returns each user's order id. A user with two orders, or an
// order of another activity, is an error. Reading every user's orders takes
// the administrator's token, admin.
func ListOrders(ctx context.Context, client *http.Client, admin, base string, activity int64) (map[int64]string, error) {
	out := map[int64]string{}
	for offset := 0; ; offset += 100 {
		var page []struct {
			ID         string `json:"id"`
			UserID     int64  `json:"user_id"`
			ActivityID int64  `json:"activity_id"`
		}
		if err := call(ctx, client, admin, "GET", fmt.Sprintf("%s/orders?activity_id=%d&limit=100&offset=%d", base, activity, offset), nil, &page); err != nil {
			return nil, err
		}
		for _, o := range page {
			if _, dup := out[o.UserID]; dup {
				return nil, fmt.Errorf("user %d has two orders", o.UserID)
			}
			if o.ActivityID != activity {
				return nil, fmt.Errorf("order %s of activity %d listed for activity %d", o.ID, o.ActivityID, activity)
			}
			out[o.UserID] = o.ID
		}
		if len(page) < 100 {
			return out, nil
		}
	}
}

// Get GETs url and decodes the data member of its JSON envelope into out.
// The services' envelopes and Jaeger's query API both answer that shape.
func Get(ctx context.Context, client *http.Client, url string, out any) error {
	return call(ctx, client, "", http.MethodGet, url, nil, out)
}

// call sends in as JSON with token ("" for none) as the bearer credential
// and decodes the answer's data into out.
func call(ctx context.Context, client *http.Client, token, method, url string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, raw)
	}
	return json.Unmarshal(raw, &struct {
		Data any `json:"data"`
	}{Data: out})
}

// SelloutWinsPerSec is the stock over the time it took to sell, seen
// through the stats; 0 when that was not watched.
func (r Report) SelloutWinsPerSec() float64 {
	if r.SoldOutAfter <= 0 {
		return 0
	}
	return float64(r.Stock) / r.SoldOutAfter.Seconds()
}

// Print writes a human-readable report.
func (r Report) Print(w io.Writer) {
	s := r.Stats
	fmt.Fprintf(w, "activity %d: %d users x 2 requests, stock %d, %d connections, %.2fs", r.ActivityID, r.Users, r.Stock, r.Conns, r.Duration.Seconds())
	if r.Rate > 0 {
		fmt.Fprintf(w, ", paced to %.0f requests/s", r.Rate)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  %.0f requests/s, %.0f wins/s; answers %v\n", s.RPS, s.WinsPerSec, s.ByStatus)
	if r.SoldOutAfter > 0 {
		fmt.Fprintf(w, "  stock gone after %.3fs, seen through /stats: %.0f wins/s\n", r.SoldOutAfter.Seconds(), r.SelloutWinsPerSec())
	}
	fmt.Fprintf(w, "  latency won:   %s\n  latency other: %s\n", s.Won, s.Other)
	for _, c := range r.Checks {
		mark := "PASS"
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %s: %s\n", mark, c.Name, c.Detail)
	}
}
