package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/seckill/seckill/internal/bench"
	"github.com/seckill/seckill/internal/devstack"
)

// The demo's sale: small enough to finish in a moment, crowded enough that
// most buyers lose.
const (
	demoStock = 10
	demoUsers = 200
)

// grafanaURL is where docker-compose publishes Grafana; the demo names the
// dashboard when something answers there.
const grafanaURL = "http://127.0.0.1:3000"

// demo sets up a sale, sends a crowd at it and tells what came of it: the
// same set-up, crowd and verification as make bench and the reliability
// tests (internal/bench), then a short table, the trace of one purchase
// and the dashboard.
func demo(ctx context.Context, out io.Writer, s *devstack.Stack, jaeger *devstack.Jaeger) error {
	client := bench.NewClient(8)
	id, err := bench.CreateSale(ctx, client, s.AdminToken, s.Product.URL, s.Activity.URL, "demo", demoStock)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\ndemo: activity %d puts %d units on sale; %d users each try to buy twice…\n", id, demoStock, demoUsers)
	cfg := bench.Config{ActivityURL: s.Activity.URL, ProductURL: s.Product.URL, OrderURL: s.Order.URL, AdminToken: s.AdminToken,
		ActivityID: id, Stock: demoStock,
		RelayDeadline: 30 * time.Second, Crowd: bench.Crowd{FirstUser: 1, Users: demoUsers, Conns: 16}}
	load, err := bench.Drive(ctx, fmt.Sprintf("%s/activities/%d/seckill", s.Activity.URL, id), cfg.Crowd)
	if err != nil {
		return err
	}
	checks := bench.Verify(ctx, client, cfg, load)
	st := load.Summarize()
	var stats struct{ Stock, Sold, Remaining int64 }
	if err := bench.Get(ctx, client, fmt.Sprintf("%s/activities/%d/stats", s.Activity.URL, id), &stats); err != nil {
		return err
	}
	orders, err := bench.ListOrders(ctx, client, s.AdminToken, s.Order.URL, id)
	if err != nil {
		return err
	}

	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	statuses := make([]string, 0, len(st.ByStatus))
	for k := range st.ByStatus {
		statuses = append(statuses, k)
	}
	sort.Slice(statuses, func(i, j int) bool { return st.ByStatus[statuses[i]] < st.ByStatus[statuses[j]] })
	fmt.Fprintf(tw, "  answers\t%5d\trequests\n", st.Requests)
	for _, k := range statuses {
		fmt.Fprintf(tw, "    %s\t%5d\t\n", k, st.ByStatus[k])
	}
	fmt.Fprintf(tw, "  stock\t%5d\t\n", stats.Stock)
	fmt.Fprintf(tw, "  sold\t%5d\tremaining %d\n", stats.Sold, stats.Remaining)
	fmt.Fprintf(tw, "  orders\t%5d\tat the order service\n", len(orders))
	fmt.Fprintf(tw, "  latency\t%5s\tp50, %s p99\n", ms(st.All.P50), ms(st.All.P99))
	tw.Flush()

	failed := 0
	for _, c := range checks {
		if !c.OK {
			failed++
			fmt.Fprintf(out, "  FAIL %s: %s\n", c.Name, c.Detail)
		}
	}
	fmt.Fprintf(out, "  %d of %d promises checked hold (exactly stock winners, one order each, every other buyer told sold_out)\n",
		len(checks)-failed, len(checks))

	if jaeger != nil {
		if u, err := purchaseTrace(ctx, client, jaeger.QueryURL); err != nil {
			fmt.Fprintln(out, "  trace of a purchase: none found:", err)
		} else {
			fmt.Fprintln(out, "  trace of a purchase with its group commit:", u)
		}
	}
	if answers(ctx, client, grafanaURL+"/api/health") {
		fmt.Fprintf(out, "  dashboard: %s/d/seckill-sale\n", grafanaURL)
	}
	if failed > 0 {
		return fmt.Errorf("%d checks failed", failed)
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

// purchaseTrace returns the URL of a trace that holds a purchase and its
// group commit. Spans reach Jaeger a moment after the answer, so it asks
// for a few seconds.
func purchaseTrace(ctx context.Context, client *http.Client, query string) (string, error) {
	q := url.Values{"service": {"activity"}, "operation": {"seckill.commit"}, "limit": {"1"}, "lookback": {"1h"}}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var traces []struct {
			TraceID string `json:"traceID"`
		}
		err := bench.Get(ctx, client, query+"/api/traces?"+q.Encode(), &traces)
		if err == nil && len(traces) > 0 {
			if hasUI(ctx, client, query) {
				return query + "/trace/" + traces[0].TraceID, nil
			}
			return query + "/api/traces/" + traces[0].TraceID + " (JSON: a go-installed Jaeger has no UI)", nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no trace with a seckill.commit span (err %v)", err)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// hasUI reports whether the Jaeger at query serves its web UI; a
// go-installed all-in-one serves a placeholder page instead.
func hasUI(ctx context.Context, client *http.Client, query string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, query+"/", nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return err == nil && resp.StatusCode == http.StatusOK && !strings.Contains(string(page), "placeholder for Jaeger UI")
}

// answers reports whether url answers 200 within a second.
func answers(ctx context.Context, client *http.Client, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
