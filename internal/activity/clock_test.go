package activity_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/activity"
	"github.com/seckill/seckill/internal/platform/app"
	"github.com/seckill/seckill/internal/testing/svctest"
)

// activityAt starts an activity instance whose own clock is skew off.
func (s *stack) activityAt(t *testing.T, skew time.Duration) *svctest.Service {
	t.Helper()
	return svctest.Start(t, func(ctx context.Context, getenv func(string) string, stderr io.Writer, opt app.Options) error {
		opt.Now = func() time.Time { return time.Now().Add(skew) }
		return activity.Run(ctx, getenv, stderr, opt)
	}, s.env)
}

// gauge reads a sample without labels of its own of a service's /metrics.
func gauge(t *testing.T, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + name + `\{service="activity"\} (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s: no %s in /metrics", base, name)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// Three instances on one database: one with a right clock, one 90 s ahead,
// one 90 s behind. Every decision about the sale window, from memory or by
// an edit, is the same on all three: each decides by the database's clock.
// (Before, the slow one answered not_started for 90 s of a running sale and
// sold_out after its end, the fast one ended 90 s early, and the edit rule
// let the slow one move a started sale's start.)
func TestSeckill_SkewedClocksDecideAlike(t *testing.T) {
	s := newStack(t)
	ref, fast, slow := s.activity(t), s.activityAt(t, 90*time.Second), s.activityAt(t, -90*time.Second)
	type inst struct {
		name string
		*svctest.Service
	}
	all := []inst{{"right", ref}, {"90s ahead", fast}, {"90s behind", slow}}
	for _, in := range all[1:] {
		off := gauge(t, in.URL, "db_clock_offset_seconds")
		unc := gauge(t, in.URL, "db_clock_uncertainty_seconds")
		t.Logf("%s: measured offset to the database %.6fs, within %.6fs", in.name, off, unc)
	}

	t.Run("Window", func(t *testing.T) {
		// Created through the fast instance: its end, 8 s away, is in the
		// future by the database's clock though not by its own.
		const margin = 400 * time.Millisecond
		start := time.Now().Add(4 * time.Second)
		end := start.Add(4 * time.Second)
		id := s.saleAt(t, fast.URL, 2, start, end)
		// ask buys as user on in and checks the answer, and that the request
		// ran entirely inside [from, to) of the window's phase.
		ask := func(in inst, user int64, from, to time.Time, want ...string) {
			t.Helper()
			t0 := time.Now()
			a := buy(t, in.URL, id, user)
			if t1 := time.Now(); t0.Before(from) || t1.After(to) {
				t.Fatalf("%s, user %d: the request ran from %s to %s, outside its phase [%s, %s): the machine is too slow for this test",
					in.name, user, t0.Format(time.StampMilli), t1.Format(time.StampMilli), from.Format(time.StampMilli), to.Format(time.StampMilli))
			}
			for _, w := range want {
				if a.status == w {
					return
				}
			}
			t.Errorf("%s, user %d: %+v, want %v", in.name, user, a, want)
		}
		far := end.Add(time.Hour)

		// Before the start: not_started everywhere, the fast instance too
		// (its own clock says the sale started 86 s ago).
		for i, in := range all {
			ask(in, int64(100+i), time.Time{}, start.Add(-margin), "not_started")
		}
		// After the start: the slow instance (its clock 90 s before the
		// start) sells; then sold_out everywhere.
		waitFor(t, 10*time.Second, "the start", func() bool { return time.Now().After(start.Add(margin)) })
		ask(all[2], 1, start, end.Add(-margin), "won")
		ask(all[1], 2, start, end.Add(-margin), "won")
		for i, in := range all {
			ask(in, int64(3+i), start, end.Add(-margin), "sold_out")
		}
		ask(all[1], 1, start, end.Add(-margin), "already_won")
		// After the end: ended, not sold_out, everywhere, the slow instance
		// too (its own clock says the sale runs for 86 s more, and it holds
		// the sold-out map); winners are still told their win.
		waitFor(t, 10*time.Second, "the end", func() bool { return time.Now().After(end.Add(margin)) })
		for i, in := range all {
			ask(in, int64(10+i), end, far, "ended")
			ask(in, 2, end, far, "already_won")
		}
		if n := s.winners(t, id); n != 2 {
			t.Errorf("%d winners, want 2", n)
		}
	})

	t.Run("StartFrozenOnceStarted", func(t *testing.T) {
		now := time.Now()
		for i, in := range all {
			// Started 20 s ago: its start can no longer move, through any
			// instance (the slow one's clock puts the start 70 s ahead).
			started := s.saleAt(t, ref.URL, 5, now.Add(-20*time.Second), now.Add(time.Hour))
			r := svctest.Do(t, "PUT", fmt.Sprintf("%s/activities/%d", in.URL, started), map[string]any{"start_time": now.Add(time.Minute).Format(time.RFC3339Nano)})
			if r.Status != 409 {
				t.Errorf("%s: moving the start of a sale started 20 s ago: %d %s, want 409", in.name, r.Status, r.Raw)
			}
			// Starts in 20 s: its start may still move (the fast one's clock
			// puts the start 70 s behind).
			later := s.saleAt(t, ref.URL, 5, now.Add(20*time.Second), now.Add(time.Hour))
			moved := now.Add(time.Duration(30+i) * time.Second).Truncate(time.Millisecond)
			r = svctest.Do(t, "PUT", fmt.Sprintf("%s/activities/%d", in.URL, later), map[string]any{"start_time": moved.Format(time.RFC3339Nano)})
			if r.Status != 200 {
				t.Errorf("%s: moving the start of a sale that starts in 20 s: %d %s, want 200", in.name, r.Status, r.Raw)
			}
		}
	})
}
