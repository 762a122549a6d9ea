package reliability

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/platform/pgtest"
)

// crowdWith returns a crowd that runs fault in the goroutine receiving win
// number atWin of the sale of id.
func (s *system) crowdWith(id int64, users int, atWin int64, fault func()) *crowd {
	return &crowd{url: fmt.Sprintf("%s/activities/%d/seckill", s.activity.url(), id), users: users, workers: 32,
		retryFor: 30 * time.Second, atWin: atWin, at: fault}
}

func TestCrash_ActivityKilledMidSale(t *testing.T) {
	s := newSystem(t, pgtest.NewDB(t))
	const stock = 1000
	id := s.sale(stock)
	var c *crowd
	c = s.crowdWith(id, 20_000, 300, func() {
		s.activity.kill()
		t.Logf("activity SIGKILLed when win %d was answered", c.wins.Load())
		s.activity.start()
	})
	c.run(context.Background())
	s.verify(id, stock, c)
}

func TestCrash_OrderKilledMidSale(t *testing.T) {
	s := newSystem(t, pgtest.NewDB(t))
	const stock = 1000
	id := s.sale(stock)
	var c *crowd
	c = s.crowdWith(id, 20_000, 300, func() {
		s.order.kill()
		t.Logf("order service SIGKILLed when win %d was answered", c.wins.Load())
	})
	c.run(context.Background())
	var undelivered int64
	_ = s.pool.QueryRow(context.Background(), `SELECT count(*) FROM activity.winners WHERE activity_id = $1 AND delivered_at IS NULL`, id).Scan(&undelivered)
	t.Logf("sale over with the order service down: %d wins waiting in the outbox; restarting it", undelivered)
	s.order.start()
	s.verify(id, stock, c)
}

func TestShutdown_SIGTERMWithRequestsInFlight(t *testing.T) {
	s := newSystem(t, pgtest.NewDB(t))
	const stock = 1000
	id := s.sale(stock)
	var c *crowd
	c = s.crowdWith(id, 20_000, 300, func() {
		err, took := s.activity.term(20 * time.Second)
		if err != nil {
			t.Errorf("SIGTERM: %v", err)
		}
		var undelivered int64
		_ = s.pool.QueryRow(context.Background(),
			`SELECT count(*) FROM activity.winners WHERE activity_id = $1 AND delivered_at IS NULL`, id).Scan(&undelivered)
		t.Logf("activity exited cleanly %s after SIGTERM with %d wins answered; %d wins left undelivered after its relay's flush",
			took.Round(time.Millisecond), c.wins.Load(), undelivered)
		s.activity.start()
	})
	c.run(context.Background())
	s.verify(id, stock, c)
}
