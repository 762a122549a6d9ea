package activity_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/testing/svctest"
)

// returnWin cancels user's win of activity id as the order service would,
// through base, and returns when the settlement has committed.
func returnWin(t *testing.T, base string, id, user int64, orderID string) {
	t.Helper()
	r := svctest.DoAs(t, svctest.ServiceToken, "POST", base+"/activities/settlements", map[string]any{"settlements": []map[string]any{
		{"order_id": orderID, "activity_id": id, "user_id": user, "status": "cancelled"}}})
	if r.Status != 200 {
		t.Fatalf("settlement: %d %s", r.Status, r.Raw)
	}
	if res := r.Data()["results"].([]any)[0].(map[string]any); res["status"] != "applied" {
		t.Fatalf("settlement: %v", res)
	}
}

// soldOutOn sells activity id's only unit through a and has b learn that it
// is sold out, so that b answers sold_out from memory from then on. It
// returns the winner's order id.
func soldOutOn(t *testing.T, a, b string, id, user int64) string {
	t.Helper()
	w := buy(t, a, id, user)
	if w.status != "won" {
		t.Fatalf("user %d on A: %+v", user, w)
	}
	for u := user + 1; u < user+3; u++ {
		if r := buy(t, b, id, u); r.status != "sold_out" {
			t.Fatalf("user %d on B: %+v, want sold_out", u, r)
		}
	}
	return w.orderID
}

// reacts asks b with ask until it answers want, and returns how long after
// since that answer came; it fails the test after within.
func reacts(t *testing.T, within time.Duration, since time.Time, what string, ask func() answer, want func(answer) bool) time.Duration {
	t.Helper()
	for {
		a := ask()
		took := time.Since(since)
		if want(a) {
			return took
		}
		if took > within {
			t.Fatalf("%s: not within %s (last answer %+v)", what, within, a)
		}
	}
}

// changeCount reads how many changes of kind b acted on, learnt via via.
func changeCount(t *testing.T, b, via, kind string) float64 {
	return metric(t, b, "activity_changes_total", fmt.Sprintf(`kind="%s",service="activity",via="%s"`, kind, via))
}

// Changes made through A are acted on by B as soon as the database
// announces them. B's fallback poll is off (it runs only while B is not
// listening, and its interval is an hour), and each case is one where B's
// memory alone would answer the old way forever or for a second: a
// sold-out map, a sold-out map within the old end, a gate built the moment
// before. So B answering the new way at all shows the announcement
// arrived; the deadline is a generous 1 s so a loaded machine does not fail
// the test, and the measured latency is logged (the promise is 100 ms).
func TestChanges_AnnouncedToEveryInstance(t *testing.T) {
	s := newStack(t)
	s.env["CHANGE_POLL_INTERVAL"] = "1h"
	a, b := s.activity(t).URL, s.activity(t).URL
	waitFor(t, 10*time.Second, "B listens", func() bool { return gauge(t, b, "activity_changes_listening") == 1 })
	const within = time.Second
	user := int64(1000)
	next := func() int64 { user++; return user }

	t.Run("Returned", func(t *testing.T) {
		id := s.saleAt(t, a, 1, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
		oid := soldOutOn(t, a, b, id, 1)
		before := changeCount(t, b, "notify", "returned")
		sent := time.Now()
		returnWin(t, a, id, 1, oid)
		committed := time.Now()
		took := reacts(t, within, committed, "B sells the returned unit", func() answer { return buy(t, b, id, next()) },
			func(r answer) bool { return r.status == "won" })
		t.Logf("B sold the returned unit %v after the settlement's answer (%v after its request)", took.Round(time.Microsecond), time.Since(sent).Round(time.Microsecond))
		if got := changeCount(t, b, "notify", "returned"); got != before+1 {
			t.Errorf("B acted on %v announced returns, want %v", got, before+1)
		}
	})
	t.Run("Edited", func(t *testing.T) {
		id := s.saleAt(t, a, 1, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
		soldOutOn(t, a, b, id, 1)
		r := svctest.Do(t, "PUT", fmt.Sprintf("%s/activities/%d", a, id), map[string]any{"end_time": time.Now().Add(-time.Second).Format(time.RFC3339Nano)})
		if r.Status != 200 {
			t.Fatalf("PUT end_time: %d %s", r.Status, r.Raw)
		}
		committed := time.Now()
		took := reacts(t, within, committed, "B answers ended", func() answer { return buy(t, b, id, next()) },
			func(r answer) bool { return r.status == "ended" })
		t.Logf("B answered ended %v after the edit's answer", took.Round(time.Microsecond))
		if got := changeCount(t, b, "notify", "edited"); got < 1 {
			t.Errorf("B acted on %v announced edits, want at least 1", got)
		}
	})
	t.Run("Deleted", func(t *testing.T) {
		id := s.saleAt(t, a, 10, time.Now().Add(time.Hour), time.Now().Add(2*time.Hour))
		if r := buy(t, b, id, 1); r.status != "not_started" {
			t.Fatalf("on B before the delete: %+v", r)
		}
		before := changeCount(t, b, "notify", "deleted")
		if r := svctest.Do(t, "DELETE", fmt.Sprintf("%s/activities/%d", a, id), nil); r.Status != 200 {
			t.Fatalf("DELETE on A: %d %s", r.Status, r.Raw)
		}
		committed := time.Now()
		took := reacts(t, within, committed, "B answers 404", func() answer { return buy(t, b, id, next()) },
			func(r answer) bool { return r.code == 404 })
		t.Logf("B answered 404 %v after the delete's answer", took.Round(time.Microsecond))
		// B's gate would drop itself a second after it was built anyway:
		// the count says the announcement is what dropped it.
		waitFor(t, within, "B counts the announced delete", func() bool { return changeCount(t, b, "notify", "deleted") == before+1 })
	})
	if got := changeCount(t, b, "poll", "returned"); got != 0 {
		t.Errorf("B's fallback poll dropped %v gates while B was listening", got)
	}
}

// With B's listening connection cut, B polls (every 100 ms here) and still
// reopens a sold-out sale that got a unit back; then it listens again (its
// first retry after 4 s, so the poll has the time to show itself) and acts
// on announcements as before.
func TestChanges_ListenerLostFallsBackToPolling(t *testing.T) {
	s := newStack(t)
	s.env["CHANGE_POLL_INTERVAL"] = "100ms"
	s.env["CHANGE_LISTEN_RETRY"] = "4s"
	a, b := s.activity(t).URL, s.activity(t).URL
	listeners := func() []int64 {
		rows, err := s.pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity
			WHERE application_name = 'seckill-activity-changes' AND datname = current_database() ORDER BY pid`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var pids []int64
		for rows.Next() {
			var p int64
			if err := rows.Scan(&p); err != nil {
				t.Fatal(err)
			}
			pids = append(pids, p)
		}
		return pids
	}
	waitFor(t, 10*time.Second, "both instances listen", func() bool {
		return len(listeners()) == 2 && gauge(t, b, "activity_changes_listening") == 1
	})
	old := listeners()
	id := s.saleAt(t, a, 1, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	oid := soldOutOn(t, a, b, id, 1)

	if _, err := s.pool.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'seckill-activity-changes' AND datname = current_database()`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "B notices it is not listening", func() bool { return gauge(t, b, "activity_changes_listening") == 0 })
	polled := changeCount(t, b, "poll", "returned")
	returnWin(t, a, id, 1, oid)
	committed := time.Now()
	user := int64(100)
	var winner answer
	took := reacts(t, 3*time.Second, committed, "B sells the returned unit by polling", func() answer { user++; winner = buy(t, b, id, user); return winner },
		func(r answer) bool { return r.status == "won" })
	t.Logf("not listening, B sold the returned unit %v after the settlement's answer", took.Round(time.Millisecond))
	if got := changeCount(t, b, "poll", "returned"); got < polled+1 {
		t.Errorf("B's poll dropped %v gates, want at least %v: something else reopened the sale", got, polled+1)
	}

	waitFor(t, 20*time.Second, "both instances listen again, on new connections", func() bool {
		pids := listeners()
		return len(pids) == 2 && pids[0] != old[0] && pids[0] != old[1] && pids[1] != old[0] && pids[1] != old[1] &&
			gauge(t, b, "activity_changes_listening") == 1
	})
	// Listening again: the next return reaches B by announcement.
	if r := buy(t, b, id, user+1); r.status != "sold_out" {
		t.Fatalf("on B after the resale: %+v, want sold_out", r)
	}
	announced := changeCount(t, b, "notify", "returned")
	returnWin(t, a, id, user, winner.orderID)
	committed = time.Now()
	took = reacts(t, time.Second, committed, "B sells the unit returned again", func() answer { user += 2; return buy(t, b, id, user) },
		func(r answer) bool { return r.status == "won" })
	t.Logf("listening again, B sold the returned unit %v after the settlement's answer", took.Round(time.Microsecond))
	if got := changeCount(t, b, "notify", "returned"); got != announced+1 {
		t.Errorf("B acted on %v announced returns, want %v", got, announced+1)
	}
}
