package bench

import (
	"context"
	"net/http"
	"time"
)

// The winning phase of a sale is timed from outside, as a buyer would see
// it: from the first purchase request until GET /activities/{id}/stats
// says no unit remains. The stats are read from the database, so the
// moment they say so every win is committed.

// selloutStats is the part of the stats document the watcher reads; a
// missing field is nil, never a zero that would read as sold out.
type selloutStats struct {
	Stock     *int64 `json:"stock"`
	Remaining *int64 `json:"remaining"`
}

// soldOut reports whether the stats say the stock is gone.
func (s selloutStats) soldOut() bool {
	return s.Stock != nil && s.Remaining != nil && *s.Stock > 0 && *s.Remaining == 0
}

// WatchSellout polls statsURL every interval from its own goroutine until
// the stats say the stock is gone or ctx ends. The channel it returns
// receives once, then is closed: when the answer that said so arrived, or
// the zero time when ctx ended first. A failed poll is tried again at the
// next tick: the watcher only observes.
func WatchSellout(ctx context.Context, client *http.Client, statsURL string, interval time.Duration) <-chan time.Time {
	out := make(chan time.Time, 1)
	go func() {
		defer close(out)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			var st selloutStats
			if err := Get(ctx, client, statsURL, &st); err == nil && st.soldOut() {
				out <- time.Now()
				return
			}
			select {
			case <-ctx.Done():
				out <- time.Time{}
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// selloutGrace is how long a run that watched the stats waits, once
// every request is answered, for the watcher to see the stock gone.
const selloutGrace = 5 * time.Second

// AwaitSellout returns WatchSellout's answer once the load is over: when
// the stats said the stock was gone, or the zero time if they have not
// within selloutGrace, after which it calls stop (the watcher's context's
// cancel). Every request has been answered by then, so a stock that is gone
// shows at the watcher's next poll, well within the grace.
func AwaitSellout(sellout <-chan time.Time, stop func()) time.Time {
	grace := time.AfterFunc(selloutGrace, stop)
	defer grace.Stop()
	return <-sellout
}
