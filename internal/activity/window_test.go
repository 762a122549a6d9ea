package activity_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/testing/svctest"
)

// saleAt creates a product and an activity with stock units open over
// [start, end), through base.
func (s *stack) saleAt(t *testing.T, base string, stock int, start, end time.Time) int64 {
	t.Helper()
	r := svctest.Do(t, "POST", s.product+"/products", map[string]any{"name": fmt.Sprintf("w-%d", time.Now().UnixNano()), "price": 2, "inventory": stock})
	if r.Status != 201 {
		t.Fatalf("create product: %d %s", r.Status, r.Raw)
	}
	r = svctest.Do(t, "POST", base+"/activities", map[string]any{"name": "window", "product_id": svctest.Int(r.Data()["id"]), "stock": stock,
		"start_time": start.Format(time.RFC3339Nano), "end_time": end.Format(time.RFC3339Nano)})
	if r.Status != 201 {
		t.Fatalf("create activity: %d %s", r.Status, r.Raw)
	}
	return svctest.Int(r.Data()["id"])
}

func (s *stack) winners(t *testing.T, id int64) int64 {
	t.Helper()
	var n int64
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM activity.winners WHERE activity_id = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// hammer sends purchases of fresh users to base until stop is closed, and
// counts the answers by status.
func hammer(t *testing.T, base string, id int64, next *atomic.Int64, stop <-chan struct{}) (*sync.Map, *sync.WaitGroup) {
	var got sync.Map
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				a := buy(t, base, id, next.Add(1))
				n, _ := got.LoadOrStore(fmt.Sprint(a.code, " ", a.status), new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
			}
		}()
	}
	return &got, &wg
}

func statuses(m *sync.Map) map[string]int64 {
	out := map[string]int64{}
	m.Range(func(k, v any) bool { out[k.(string)] = v.(*atomic.Int64).Load(); return true })
	return out
}

// Two instances, a crowd buying through B, and the end moved into the past
// through A: from the moment A's PUT has committed, B wins nothing more,
// although B's memory still holds the old end. (It sold 1,246 more units
// when the window lived only in each process.)
func TestSeckill_TwoInstancesEndMovedIntoThePast(t *testing.T) {
	s := newStack(t)
	a, b := s.activity(t), s.activity(t)
	now := time.Now()
	id := s.saleAt(t, a.URL, 100_000, now.Add(-time.Minute), now.Add(time.Hour))
	var next atomic.Int64
	stop := make(chan struct{})
	got, wg := hammer(t, b.URL, id, &next, stop)
	waitFor(t, 10*time.Second, "wins on B", func() bool { return s.winners(t, id) >= 200 })

	r := svctest.Do(t, "PUT", fmt.Sprintf("%s/activities/%d", a.URL, id), map[string]any{"end_time": time.Now().Add(-time.Second).Format(time.RFC3339Nano)})
	if r.Status != 200 {
		t.Fatalf("PUT end_time: %d %s", r.Status, r.Raw)
	}
	atPUT := s.winners(t, id)
	after := next.Load()
	waitFor(t, 10*time.Second, "500 more requests on B", func() bool { return next.Load() >= after+500 })
	close(stop)
	wg.Wait()
	if n := s.winners(t, id); n != atPUT {
		t.Errorf("%d winners when the PUT committed, %d after: B sold %d units after the end", atPUT, n, n-atPUT)
	}
	if r := buy(t, b.URL, id, next.Add(1)); r.status != "ended" {
		t.Errorf("a new buyer on B after the end: %+v, want ended", r)
	}
	t.Logf("%d winners before the end moved; answers on B: %v", atPUT, statuses(got))
}

// Two instances; B has loaded the activity, whose sale starts in a moment;
// A moves the start ten minutes later. B, asked nothing in between, still
// holds the old start in memory when it passes, so its first claims reach
// the database: they are refused (not_started) and B sells nothing, then or
// after.
func TestSeckill_TwoInstancesStartMovedLater(t *testing.T) {
	s := newStack(t)
	a, b := s.activity(t), s.activity(t)
	start := time.Now().Add(3 * time.Second)
	id := s.saleAt(t, a.URL, 1000, start, start.Add(time.Hour))
	if r := buy(t, b.URL, id, 1); r.status != "not_started" {
		t.Fatalf("before the start on B: %+v", r)
	}
	r := svctest.Do(t, "PUT", fmt.Sprintf("%s/activities/%d", a.URL, id), map[string]any{"start_time": start.Add(10 * time.Minute).Format(time.RFC3339Nano)})
	if r.Status != 200 {
		t.Fatalf("PUT start_time: %d %s", r.Status, r.Raw)
	}
	waitFor(t, 10*time.Second, "the old start to pass", func() bool { return time.Now().After(start.Add(50 * time.Millisecond)) })
	var next atomic.Int64
	next.Store(1)
	stop := make(chan struct{})
	got, wg := hammer(t, b.URL, id, &next, stop)
	waitFor(t, 10*time.Second, "500 requests on B after the old start", func() bool { return next.Load() >= 501 })
	close(stop)
	wg.Wait()
	if n := s.winners(t, id); n != 0 {
		t.Errorf("B sold %d units at the old start", n)
	}
	for k := range statuses(got) {
		if k != "200 not_started" {
			t.Errorf("an answer on B was %q, want only 200 not_started; all: %v", k, statuses(got))
		}
	}
}

// An activity the database no longer has answers 404 on every instance, at
// once when the instance asks the database and within a second when it
// answers from memory; never 503 "retry" forever.
func TestSeckill_GoneIsGone(t *testing.T) {
	s := newStack(t)
	a, b := s.activity(t), s.activity(t)

	t.Run("DeletedThroughAnotherInstance", func(t *testing.T) {
		// Not started yet, so it may be deleted; B holds it in memory.
		id := s.saleAt(t, a.URL, 10, time.Now().Add(time.Hour), time.Now().Add(2*time.Hour))
		if r := buy(t, b.URL, id, 1); r.status != "not_started" {
			t.Fatalf("on B before the delete: %+v", r)
		}
		if r := svctest.Do(t, "DELETE", fmt.Sprintf("%s/activities/%d", a.URL, id), nil); r.Status != 200 {
			t.Fatalf("DELETE on A: %d %s", r.Status, r.Raw)
		}
		deleted := time.Now()
		waitFor(t, 5*time.Second, "B answers 404", func() bool { return buy(t, b.URL, id, 2).code == 404 })
		if took := time.Since(deleted); took > time.Second+200*time.Millisecond {
			t.Errorf("B answered 404 %s after the delete, want within a second", took)
		}
		for u := int64(3); u < 13; u++ {
			if r := buy(t, b.URL, id, u); r.code != 404 {
				t.Errorf("user %d on B after the delete: %+v, want 404", u, r)
			}
		}
	})
	t.Run("RowGoneMidSale", func(t *testing.T) {
		// On sale, B's gate loaded by a win; then the rows vanish from the
		// database (as after an operator's DELETE).
		id := s.saleAt(t, a.URL, 10, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
		if r := buy(t, b.URL, id, 1); r.status != "won" {
			t.Fatalf("on B: %+v", r)
		}
		for _, q := range []string{`DELETE FROM activity.winners WHERE activity_id = $1`, `DELETE FROM activity.activities WHERE id = $1`} {
			if _, err := s.pool.Exec(context.Background(), q, id); err != nil {
				t.Fatal(err)
			}
		}
		for u := int64(2); u < 12; u++ {
			if r := buy(t, b.URL, id, u); r.code != 404 {
				t.Errorf("user %d on B after the rows went: %+v, want 404", u, r)
			}
		}
	})
}

// waitFor polls cond until it holds, and fails the test when within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(10 * time.Millisecond) // polling interval of a deadline-bounded wait
	}
}
