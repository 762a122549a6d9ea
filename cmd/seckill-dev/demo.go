package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// demo seeds a product and an activity through the APIs, runs a short sale
// and shows what came of it.
func demo(ctx context.Context, out io.Writer, urls map[string]string) error {
	var p struct{ ID int64 }
	name := fmt.Sprintf("Demo keyboard %d", time.Now().Unix())
	if err := call("POST", urls["product"]+"/products", map[string]any{"name": name, "description": "seeded by make demo", "price": 99.5, "inventory": 100}, &p); err != nil {
		return err
	}
	var a struct{ ID int64 }
	now := time.Now()
	if err := call("POST", urls["activity"]+"/activities", map[string]any{"name": "Demo flash sale", "product_id": p.ID, "stock": 10,
		"start_time": now.Format(time.RFC3339), "end_time": now.Add(time.Hour).Format(time.RFC3339)}, &a); err != nil {
		return err
	}
	fmt.Fprintf(out, "\ndemo: product %d, activity %d with stock 10; 200 users each try twice…\n", p.ID, a.ID)
	type answer struct {
		Won     bool   `json:"won"`
		Status  string `json:"status"`
		OrderID string `json:"order_id"`
		UserID  int64  `json:"user_id"`
	}
	var (
		mu      sync.Mutex
		counts  = map[string]int{}
		example *answer
		wg      sync.WaitGroup
	)
	for u := int64(1); u <= 200; u++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2 {
				var ans answer
				if err := call("POST", fmt.Sprintf("%s/activities/%d/seckill", urls["activity"], a.ID), map[string]any{"user_id": u}, &ans); err != nil {
					mu.Lock()
					counts["error"]++
					mu.Unlock()
					continue
				}
				mu.Lock()
				counts[ans.Status]++
				if ans.Status == "won" && example == nil {
					example = &ans
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	fmt.Fprintf(out, "demo: answers by status: %v\n", counts)
	if example != nil {
		fmt.Fprintf(out, "demo: a winner's answer: user %d, status %s, order %s\n", example.UserID, example.Status, example.OrderID)
	}
	var stats map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := call("GET", fmt.Sprintf("%s/activities/%d/stats", urls["activity"], a.ID), nil, &stats); err != nil {
			return err
		}
		if n, _ := stats["undelivered"].(float64); n == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	fmt.Fprintf(out, "demo: activity stats: %v\n", stats)
	var page struct {
		Pagination struct{ Total int64 } `json:"pagination"`
	}
	raw, err := get(fmt.Sprintf("%s/orders?activity_id=%d", urls["order"], a.ID))
	if err != nil {
		return err
	}
	_ = json.Unmarshal(raw, &page)
	fmt.Fprintf(out, "demo: orders in the order service for this activity: %d\n", page.Pagination.Total)
	return nil
}

func call(method, url string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, raw)
	}
	env := struct {
		Data any `json:"data"`
	}{Data: out}
	return json.Unmarshal(raw, &env)
}

func get(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
