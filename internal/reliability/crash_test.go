package reliability

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/testing/pgtest"
)

// The sales below have stock 1000 and a crowd of 20,000 users, each asking
// twice; the fault fires when win 300 is answered, so it lands mid-sale
// with 31 other requests in flight.
const (
	crashStock = 1000
	crashUsers = 20_000
	crashAtWin = 300
)

// TestCrash_ActivityKilledMidSale SIGKILLs the activity service mid-sale
// and starts a new one on the same port at once; the crowd retries what got
// no answer. No answered win may be lost, and no unit sold twice.
func TestCrash_ActivityKilledMidSale(t *testing.T) {
	s := newSystem(t, pgtest.NewDB(t))
	id := s.sale(crashStock)
	c := newCrowd(s, id, crashUsers)
	c.at[crashAtWin] = func() {
		s.activity.Kill()
		t.Logf("activity SIGKILLed when win %d was answered", crashAtWin)
		start := time.Now()
		s.restart(s.activity)
		t.Logf("a new activity process answers /readyz %s later", time.Since(start).Round(time.Millisecond))
	}
	c.run(context.Background())
	s.verify(id, crashStock, c)
}

// TestCrash_ActivityKilledBeforeDelivering SIGKILLs the activity service
// while every win it committed is still in its outbox (the order service is
// down from the start), then brings up a new activity process and, 300 wins
// later, the order service: the new process delivers what the killed one
// committed, and every win becomes exactly one order.
func TestCrash_ActivityKilledBeforeDelivering(t *testing.T) {
	s := newSystem(t, pgtest.NewDB(t))
	id := s.sale(crashStock)
	s.order.Kill()
	c := newCrowd(s, id, crashUsers)
	c.at[crashAtWin] = func() {
		waiting := s.undelivered(id)
		if waiting < crashAtWin {
			t.Errorf("%d wins undelivered when win %d was answered with the order service down; want at least %d", waiting, crashAtWin, crashAtWin)
		}
		s.activity.Kill()
		t.Logf("activity SIGKILLed with %d committed wins undelivered; a new process takes over", waiting)
		s.restart(s.activity)
	}
	c.at[2*crashAtWin] = func() {
		t.Logf("win %d answered: %d wins waiting in the outbox; starting the order service", 2*crashAtWin, s.undelivered(id))
		s.restart(s.order)
	}
	c.run(context.Background())
	s.verify(id, crashStock, c)
}

// TestCrash_OrderKilledMidSale SIGKILLs the order service mid-sale and
// restarts it 300 wins later: the sale goes on without it, the relay keeps
// the wins in its outbox, and once the service is back every win becomes
// exactly one order.
func TestCrash_OrderKilledMidSale(t *testing.T) {
	s := newSystem(t, pgtest.NewDB(t))
	id := s.sale(crashStock)
	c := newCrowd(s, id, crashUsers)
	c.at[crashAtWin] = func() {
		s.order.Kill()
		t.Logf("order service SIGKILLed when win %d was answered", crashAtWin)
	}
	c.at[2*crashAtWin] = func() {
		t.Logf("win %d answered with the order service down: %d wins waiting in the outbox; restarting it", 2*crashAtWin, s.undelivered(id))
		s.restart(s.order)
	}
	c.run(context.Background())
	s.verify(id, crashStock, c)
}

// TestShutdown_SIGTERMWithRequestsInFlight sends SIGTERM to the activity
// service mid-sale, with the crowd's requests in flight: it must exit with
// status 0 within 20s, every request in flight must get an answer or a
// connection error (never hang), and its relay must flush; a new process
// then finishes the sale.
func TestShutdown_SIGTERMWithRequestsInFlight(t *testing.T) {
	s := newSystem(t, pgtest.NewDB(t))
	id := s.sale(crashStock)
	c := newCrowd(s, id, crashUsers)
	c.at[crashAtWin] = func() {
		c.mark()
		took, err := s.activity.Term(20 * time.Second)
		if err != nil {
			t.Errorf("after SIGTERM: %v (want exit status 0 within 20s)", err)
		}
		undelivered := s.undelivered(id)
		t.Logf("activity exited with status 0 %s after SIGTERM at win %d; its relay left %d wins undelivered",
			took.Round(time.Millisecond), crashAtWin, undelivered)
		if undelivered != 0 {
			t.Errorf("the order service is up, yet the relay left %d wins undelivered: a graceful shutdown flushes it", undelivered)
		}
		s.restart(s.activity)
	}
	c.run(context.Background())
	answered, errored := c.inflightAnswered.Load(), c.inflightErrored.Load()
	t.Logf("requests in flight at SIGTERM: %d answered, %d connection errors (retried), %d hung", answered, errored, c.timeouts.Load())
	if answered == 0 {
		t.Error("no request was in flight at SIGTERM: the test did not test a graceful shutdown")
	}
	s.verify(id, crashStock, c)
}

// TestShutdown_SIGTERMDrainsFirst sends SIGTERM mid-sale to an activity
// service run with SHUTDOWN_DRAIN, as behind a load balancer: for the drain
// its /readyz answers 503 while every purchase is still answered with 200;
// only then does it stop accepting, and it exits with status 0. A new
// process then finishes the sale, and every promise holds.
func TestShutdown_SIGTERMDrainsFirst(t *testing.T) {
	const drain = 3 * time.Second
	s := newSystem(t, pgtest.NewDB(t), "SHUTDOWN_DRAIN="+drain.String())
	id := s.sale(crashStock)
	c := newCrowd(s, id, crashUsers)
	var termAt, notReadyAt time.Time
	c.at[crashAtWin] = func() {
		// This runs in one of the crowd's workers; the others go on buying
		// through the drain.
		exited := s.activity.Done()
		termAt = time.Now()
		c.watch(termAt.Add(drain))
		type exit struct {
			took time.Duration
			err  error
		}
		exitc := make(chan exit, 1)
		go func() {
			took, err := s.activity.Term(drain + 20*time.Second)
			exitc <- exit{took, err}
		}()
		// /readyz fails at once and stays failed until the process is gone;
		// until the drain has passed, it answers (503) rather than refusing.
		tick := time.NewTicker(20 * time.Millisecond) // polling interval, bounded by Term's deadline
		defer tick.Stop()
		polls := 0
	poll:
		for {
			code, at := get(s.activity.URL+"/readyz"), time.Now()
			polls++
			switch {
			case code == http.StatusServiceUnavailable:
				if notReadyAt.IsZero() {
					notReadyAt = at
				}
			case code == http.StatusOK && notReadyAt.IsZero() && at.Sub(termAt) < time.Second:
				// The signal may not have been handled yet.
			case at.Before(termAt.Add(drain)):
				t.Errorf("GET /readyz answered %d %s after SIGTERM, within the drain of %s; want 503", code, at.Sub(termAt), drain)
			case code == http.StatusOK:
				t.Errorf("GET /readyz answered 200 %s after SIGTERM", at.Sub(termAt))
			}
			select {
			case <-exited:
				break poll
			case <-tick.C:
			}
		}
		e := <-exitc
		if e.err != nil {
			t.Errorf("after SIGTERM: %v (want exit status 0)", e.err)
		}
		if e.took < drain {
			t.Errorf("exited %s after SIGTERM, before its drain of %s had passed", e.took, drain)
		}
		if notReadyAt.IsZero() {
			t.Errorf("GET /readyz never answered 503 in %d polls after SIGTERM", polls)
		}
		t.Logf("activity exited with status 0 %s after SIGTERM at win %d; /readyz answered 503 from %s after it",
			e.took.Round(time.Millisecond), crashAtWin, notReadyAt.Sub(termAt).Round(time.Millisecond))
		s.restart(s.activity)
	}
	c.run(context.Background())

	// Every purchase that was sent after SIGTERM and ended within the drain
	// was answered 200, including those sent when /readyz already said 503.
	var answered, afterNotReady int
	for _, w := range c.watched() {
		if !w.ended.Before(termAt.Add(drain)) {
			continue // the listener may have closed under it
		}
		if w.answer.Err != nil || w.answer.Code != http.StatusOK {
			t.Errorf("a purchase sent %s after SIGTERM, within the drain, got %d %v; want 200",
				w.sent.Sub(termAt).Round(time.Millisecond), w.answer.Code, w.answer.Err)
			continue
		}
		answered++
		if !notReadyAt.IsZero() && w.sent.After(notReadyAt) {
			afterNotReady++
		}
	}
	t.Logf("within the drain: %d purchases answered 200, %d of them sent after /readyz answered 503", answered, afterNotReady)
	if afterNotReady == 0 {
		t.Error("no purchase was answered while /readyz answered 503: the test did not test a drain")
	}
	s.verify(id, crashStock, c)
}
