package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSale is an activity and order service in one, with a flaw to inject.
type fakeSale struct {
	mu        sync.Mutex
	stock     int
	winners   map[int64]string
	oversell  bool // sells one more than the stock
	newIDs    bool // gives a winner a new order id on the repeat
	undeliver bool // never delivers orders
	// flaky answers every flaky-th purchase request 503 without deciding it.
	flaky    int
	requests int
}

func (f *fakeSale) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	write := func(data any) {
		_ = json.NewEncoder(w).Encode(map[string]any{"code": 0, "message": "ok", "data": data})
	}
	switch {
	case strings.HasSuffix(r.URL.Path, "/seckill"):
		var in struct {
			UserID int64 `json:"user_id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		if f.requests++; f.flaky > 0 && f.requests%f.flaky == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			write(nil)
			return
		}
		if oid, ok := f.winners[in.UserID]; ok {
			if f.newIDs {
				oid = fmt.Sprintf("other-%d", in.UserID)
			}
			write(map[string]any{"status": "already_won", "won": true, "order_id": oid})
			return
		}
		limit := f.stock
		if f.oversell {
			limit++
		}
		if len(f.winners) < limit {
			oid := fmt.Sprintf("order-%d", in.UserID)
			f.winners[in.UserID] = oid
			write(map[string]any{"status": "won", "won": true, "order_id": oid})
			return
		}
		write(map[string]any{"status": "sold_out", "won": false})
	case strings.HasSuffix(r.URL.Path, "/stats"):
		sold := len(f.winners)
		undelivered := 0
		if f.undeliver {
			undelivered = sold
		}
		write(map[string]any{"stock": f.stock, "sold": sold, "remaining": max(0, f.stock-sold), "undelivered": undelivered, "failed": 0})
	case r.URL.Path == "/orders":
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		var all []map[string]any
		if !f.undeliver {
			// In user order, as pages of a map's random order would overlap.
			for _, u := range slices.Sorted(maps.Keys(f.winners)) {
				all = append(all, map[string]any{"id": f.winners[u], "user_id": u, "activity_id": 1})
			}
		}
		end := min(len(all), offset+100)
		if offset > len(all) {
			offset = end
		}
		write(all[offset:end])
	default:
		http.Error(w, "unexpected "+r.URL.Path, 404)
	}
}

func runFake(t *testing.T, f *fakeSale) Report {
	t.Helper()
	return runFakeRetrying(t, f, 0)
}

// runFakeRetrying runs the sale with a crowd that retries unanswered
// requests for retryFor.
func runFakeRetrying(t *testing.T, f *fakeSale, retryFor time.Duration) Report {
	t.Helper()
	srv := httptest.NewServer(f)
	defer srv.Close()
	r, err := Run(context.Background(), Config{ActivityURL: srv.URL, ProductURL: srv.URL, OrderURL: srv.URL, ActivityID: 1,
		Stock: f.stock, RelayDeadline: 300 * time.Millisecond, Crowd: Crowd{Users: 2000, FirstUser: 1, Conns: 16, RetryFor: retryFor}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func failed(r Report) []string {
	var out []string
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c.Name)
		}
	}
	return out
}

func TestVerify_ACorrectSalePasses(t *testing.T) {
	r := runFake(t, &fakeSale{stock: 50, winners: map[int64]string{}})
	if !r.OK {
		t.Fatalf("a correct sale failed: %v", failed(r))
	}
	if r.Stats.Requests != 4000 || r.Stats.Wins != 50 || r.Stats.Won.N != 50 {
		t.Errorf("stats: %+v", r.Stats)
	}
}

func TestVerify_FlawsAreCaught(t *testing.T) {
	for _, tc := range []struct {
		name string
		sale *fakeSale
		want string
	}{
		{"OversellByOne", &fakeSale{stock: 50, winners: map[int64]string{}, oversell: true}, "wins == stock"},
		{"RepeatGetsAnotherOrderID", &fakeSale{stock: 50, winners: map[int64]string{}, newIDs: true}, "each winner told won once, already_won with the same order id otherwise"},
		{"OrdersNeverDelivered", &fakeSale{stock: 50, winners: map[int64]string{}, undeliver: true}, "relay drained"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runFake(t, tc.sale)
			if r.OK {
				t.Fatal("a flawed sale passed verification")
			}
			if got := failed(r); !strings.Contains(strings.Join(got, "|"), tc.want) {
				t.Errorf("failed checks %v do not include %q", got, tc.want)
			}
		})
	}
}

func TestVerify_RetryingCrowd(t *testing.T) {
	t.Run("RetriedUntilAnswered", func(t *testing.T) {
		r := runFakeRetrying(t, &fakeSale{stock: 50, winners: map[int64]string{}, flaky: 7}, 5*time.Second)
		if !r.OK {
			t.Fatalf("a sale whose 503s were retried failed: %v", failed(r))
		}
		if got := r.Stats.ByStatus["http_503"]; got != 0 {
			t.Errorf("%d answers recorded as 503 after retries, want 0", got)
		}
	})
	t.Run("WithoutRetriesA503Fails", func(t *testing.T) {
		r := runFakeRetrying(t, &fakeSale{stock: 50, winners: map[int64]string{}, flaky: 7}, 0)
		if got := failed(r); !strings.Contains(strings.Join(got, "|"), "every request answered 200") {
			t.Errorf("failed checks %v do not include the 503s", got)
		}
	})
	t.Run("FlawsAreStillCaught", func(t *testing.T) {
		r := runFakeRetrying(t, &fakeSale{stock: 50, winners: map[int64]string{}, flaky: 7, newIDs: true}, 5*time.Second)
		if got := failed(r); !strings.Contains(strings.Join(got, "|"), "each winner told won once") {
			t.Errorf("failed checks %v do not include the changed order ids", got)
		}
	})
}

// TestVerifyRecords_WithoutAnswers checks a sale by the services' records
// alone, as make bench checks wrk's, which keeps no answers.
func TestVerifyRecords_WithoutAnswers(t *testing.T) {
	sold := func(n int) map[int64]string {
		w := map[int64]string{}
		for u := range n {
			w[int64(u+1)] = fmt.Sprintf("order-%d", u+1)
		}
		return w
	}
	for _, tc := range []struct {
		name string
		sale *fakeSale
		want string // the failed check, "" when all pass
	}{
		{"Correct", &fakeSale{stock: 150, winners: sold(150)}, ""},
		{"Undersold", &fakeSale{stock: 150, winners: sold(149)}, "stats: sold == stock, remaining 0|orders == stock, one per user"},
		{"OrdersNeverDelivered", &fakeSale{stock: 150, winners: sold(150), undeliver: true}, "relay drained|orders == stock, one per user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.sale)
			defer srv.Close()
			cfg := Config{ActivityURL: srv.URL, OrderURL: srv.URL, ActivityID: 1, Stock: tc.sale.stock, RelayDeadline: 200 * time.Millisecond}
			var failed []string
			for _, c := range VerifyRecords(context.Background(), srv.Client(), cfg, nil) {
				if !c.OK {
					failed = append(failed, c.Name)
				}
			}
			if got := strings.Join(failed, "|"); got != tc.want {
				t.Errorf("failed checks %q, want %q", got, tc.want)
			}
		})
	}
}
