package reliability

import (
	"context"
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
		t.Error("no request was in flight at SIGTERM: the test did not test a drain")
	}
	s.verify(id, crashStock, c)
}
