package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// statsServer answers GET /activities/1/stats with the document of poll n
// (counted from 1) that docs returns.
func statsServer(t *testing.T, docs func(n int64) (int, string)) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var polls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/activities/1/stats" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		code, body := docs(polls.Add(1))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &polls
}

// TestWatchSellout_SeesTheStockGone: the watcher polls until the stats say
// remaining 0, and not one poll longer; an error answer, a document without
// remaining and a zero stock on the way are not read as sold out.
func TestWatchSellout_SeesTheStockGone(t *testing.T) {
	srv, polls := statsServer(t, func(n int64) (int, string) {
		switch n {
		case 1:
			return 200, `{"code":0,"message":"ok","data":{"activity_id":1,"stock":100,"remaining":100,"sold":0}}`
		case 2:
			return 503, `{"code":503,"message":"database unavailable","error":"unavailable","status_code":503}`
		case 3:
			return 200, `{"code":0,"message":"ok","data":{"activity_id":1,"stock":100,"sold":100}}`
		case 4:
			return 200, `{"code":0,"message":"ok","data":{"activity_id":1,"stock":0,"remaining":0}}`
		case 5:
			return 200, `{"code":0,"message":"ok","data":{"activity_id":1,"stock":100,"remaining":3,"sold":97}}`
		default:
			return 200, `{"code":0,"message":"ok","data":{"activity_id":1,"stock":100,"remaining":0,"sold":100}}`
		}
	})
	before := time.Now()
	at := <-WatchSellout(context.Background(), srv.Client(), srv.URL+"/activities/1/stats", time.Millisecond)
	if at.IsZero() || at.Before(before) {
		t.Fatalf("sold out seen at %v, want a time after %v", at, before)
	}
	if got, want := polls.Load(), int64(6); got != want {
		t.Errorf("%d polls, want %d: the watcher must stop at the first sold-out answer", got, want)
	}
}

// TestWatchSellout_EndsWithItsContext: a sale that never sells out yields
// the zero time once the context ends, and the channel is closed.
func TestWatchSellout_EndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, _ := statsServer(t, func(n int64) (int, string) {
		if n == 3 {
			cancel() // the run is over after the third poll
		}
		return 200, `{"code":0,"message":"ok","data":{"activity_id":1,"stock":100,"remaining":40,"sold":60}}`
	})
	ch := WatchSellout(ctx, srv.Client(), srv.URL+"/activities/1/stats", time.Millisecond)
	if at := <-ch; !at.IsZero() {
		t.Errorf("a sale that never sold out was seen sold out at %v", at)
	}
	if _, open := <-ch; open {
		t.Error("the channel is still open after its one value")
	}
}

// TestRun_WatchSellout: a watched run reports when the stock was gone, a
// time within the run, and passes its watcher's check.
func TestRun_WatchSellout(t *testing.T) {
	f := &fakeSale{stock: 50, winners: map[int64]string{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	r, err := Run(context.Background(), Config{ActivityURL: srv.URL, ProductURL: srv.URL, OrderURL: srv.URL, ActivityID: 1,
		Stock: f.stock, RelayDeadline: 300 * time.Millisecond, WatchSellout: time.Millisecond,
		Crowd: Crowd{Users: 2000, FirstUser: 1, Conns: 16}})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK {
		t.Fatalf("a correct, watched sale failed: %v", failed(r))
	}
	if r.SoldOutAfter <= 0 || r.SoldOutAfter > r.Duration+selloutGrace {
		t.Errorf("sold out after %v in a run of %v", r.SoldOutAfter, r.Duration)
	}
	if got, want := r.SelloutWinsPerSec(), float64(r.Stock)/r.SoldOutAfter.Seconds(); got != want {
		t.Errorf("sellout wins/s %v, want %v", got, want)
	}
}
