//go:build ha

package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seckill/seckill/internal/bench"
	"github.com/seckill/seckill/internal/devstack"
	"github.com/seckill/seckill/internal/devstack/hastack"
	"github.com/seckill/seckill/internal/testing/svctest"
)

// The HA sales: stock 2,000 and a crowd of 6,000 users, each asking twice,
// buying through HAProxy from two activity instances; the fault fires when
// win 600 is answered.
const (
	haStock = 2000
	haUsers = 6000
	haAtWin = 600
)

// haSystem is the HA stack as the reliability harness sees it: its
// activity "process" is HAProxy's activity frontend, its pool reaches the
// leader through HAProxy.
type haSystem struct {
	*system
	st *hastack.Stack
}

// newHASystem starts the HA stack (etcd, three Patroni nodes, HAProxy, the
// services), failing the test when it cannot.
func newHASystem(t *testing.T, cfg hastack.Config) *haSystem {
	t.Helper()
	cfg.Bin = binDir
	cfg.AdminToken, cfg.ServiceToken = svctest.AdminToken, svctest.ServiceToken
	cfg.Env = append([]string{"ACCESS_LOG=false", "LOG_LEVEL=warn", "JAEGER_DISABLED=true", "RELAY_INTERVAL=200ms", "SHUTDOWN_TIMEOUT=10s"}, cfg.Env...)
	start := time.Now()
	st, err := hastack.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			procs := append(st.Procs(), st.HAProxy)
			for _, n := range st.Nodes {
				procs = append(procs, n.Patroni)
			}
			for _, p := range procs {
				out := p.Output()
				if len(out) > 6000 {
					out = "…" + out[len(out)-6000:]
				}
				t.Logf("%s output:\n%s", p.Name, out)
			}
		}
		st.Stop()
	})
	leader, _ := st.Leader(context.Background())
	t.Logf("HA stack up in %s: leader %s, services on %s", time.Since(start).Round(100*time.Millisecond), leader.Name, dbKind(cfg))
	pool, err := pgxpool.New(context.Background(), st.SuperURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	front := &devstack.Proc{Name: "haproxy activity frontend", URL: st.ActivityURL}
	return &haSystem{st: st, system: &system{t: t, pool: pool, dbURL: st.DatabaseURL, client: bench.NewClient(4),
		product: st.Product, order: st.Order, activity: front}}
}

func dbKind(cfg hastack.Config) string {
	if cfg.MultiHost {
		return "a multi-host DATABASE_URL"
	}
	return "HAProxy's leader port"
}

// outage records what buyers saw around a fault: the first and last 503 or
// connection error, how many, and when the fault struck.
type outage struct {
	mu          sync.Mutex
	at          time.Time // the fault
	first, last time.Time
	n           int
}

func (o *outage) observe(a bench.Answer) {
	if a.Err == nil && a.Code != http.StatusServiceUnavailable && a.Code < 500 {
		return
	}
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.first.IsZero() {
		o.first = now
	}
	o.last, o.n = now, o.n+1
}

func (o *outage) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == 0 {
		return "buyers saw no 503 and no connection error"
	}
	return fmt.Sprintf("buyers saw %d 503s or connection errors (each retried) from %s to %s after the fault: %s",
		o.n, o.first.Sub(o.at).Round(10*time.Millisecond), o.last.Sub(o.at).Round(10*time.Millisecond), o.last.Sub(o.first).Round(10*time.Millisecond))
}

// haCrowd is the reliability crowd pointed at HAProxy, retrying for long
// enough to ride out a failover, with the outage recorded.
func (s *haSystem) haCrowd(id int64) (*crowd, *outage) {
	c := newCrowd(s.system, id, haUsers)
	c.RetryFor = 90 * time.Second
	// Above the services' 10 s request deadline: a purchase whose commit
	// waits on a frozen standby is answered 503 at that deadline, which
	// is an answer, not a hang.
	c.Timeout = 20 * time.Second
	o := &outage{}
	observe := c.Observe
	c.Observe = func(u int64, sent time.Time, a bench.Answer) {
		o.observe(a)
		observe(u, sent, a)
	}
	return c, o
}

// failover runs a sale through HAProxy, strikes the leader with fault at
// win haAtWin, and checks every promise on the new leader. fault returns
// when the leader died.
func (s *haSystem) failover(fault func(leader *hastack.Node) (time.Time, error)) {
	t := s.t
	ctx := context.Background()
	leader, err := s.st.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := s.sale(haStock)
	c, o := s.haCrowd(id)
	var promoted, died time.Time
	var newLeader *hastack.Node
	done := make(chan struct{})
	c.at[haAtWin] = func() {
		var err error
		if died, err = fault(leader); err != nil {
			t.Error(err)
			close(done)
			return
		}
		o.mu.Lock()
		o.at = died
		o.mu.Unlock()
		go func() {
			defer close(done)
			if newLeader, err = s.st.WaitLeader(ctx, leader, 90*time.Second); err != nil {
				t.Error(err)
				return
			}
			promoted = time.Now()
		}()
	}
	c.run(ctx)
	<-done
	if t.Failed() {
		return
	}
	var firstWin time.Time
	// A backend of a killed postmaster may still commit for a moment,
	// replicated; the new leader's own wins start after its promotion,
	// which WaitLeader sees at most one poll late.
	if err := s.pool.QueryRow(ctx, `SELECT min(won_at) FROM activity.winners WHERE activity_id = $1 AND won_at > $2`, id,
		promoted.Add(-200*time.Millisecond)).Scan(&firstWin); err != nil {
		t.Errorf("first win after the failover: %v", err)
	}
	t.Logf("FIGURES leader %s died at win %d; %s was the leader %s later; the first win committed on it %s after the death; %s",
		leader.Name, haAtWin, newLeader.Name, promoted.Sub(died).Round(10*time.Millisecond), firstWin.Sub(died).Round(10*time.Millisecond), o)
	s.verify(id, haStock, c)
	s.checkInventory(id)
}

// checkInventory checks the product's units on the new leader: what the
// activity sold left the product's inventory for its reservation, and
// inventory + reserved + sold is the stock it was created with.
func (s *haSystem) checkInventory(id int64) {
	var inventory, reserved, sold int64
	err := s.pool.QueryRow(context.Background(), `SELECT p.inventory, p.reserved, p.sold FROM product.products p
		JOIN activity.activities a ON a.product_id = p.id WHERE a.id = $1`, id).Scan(&inventory, &reserved, &sold)
	if err != nil {
		s.t.Fatal(err)
	}
	if inventory+reserved+sold != haStock {
		s.t.Errorf("product: inventory %d + reserved %d + sold %d != %d created", inventory, reserved, sold, haStock)
	}
}

// TestHA_LeaderPostgresKilled SIGKILLs the leader's PostgreSQL mid-sale.
// Patroni promotes the synchronous standby; the services, reaching the
// leader through HAProxy, go on without a restart, and every buyer told
// won holds that win, with that order id, on the new leader.
func TestHA_LeaderPostgresKilled(t *testing.T) {
	s := newHASystem(t, hastack.Config{})
	s.failover(func(leader *hastack.Node) (time.Time, error) {
		pid, err := leader.KillPostgres()
		t.Logf("SIGKILLed %s's postmaster (pid %d)", leader.Name, pid)
		return time.Now(), err
	})
}

// TestHA_LeaderNodeKilled kills the leader's whole node, Patroni and
// PostgreSQL: its leader key expires and the synchronous standby takes
// over.
func TestHA_LeaderNodeKilled(t *testing.T) {
	s := newHASystem(t, hastack.Config{})
	s.failover(func(leader *hastack.Node) (time.Time, error) {
		leader.Kill()
		t.Logf("SIGKILLed %s: Patroni and PostgreSQL", leader.Name)
		return time.Now(), nil
	})
}

// TestHA_MultiHostDatabaseURL runs the services on a multi-host
// DATABASE_URL (target_session_attrs=read-write) instead of HAProxy: the
// driver finds the new leader by itself after the old one's PostgreSQL is
// killed.
func TestHA_MultiHostDatabaseURL(t *testing.T) {
	s := newHASystem(t, hastack.Config{MultiHost: true})
	s.failover(func(leader *hastack.Node) (time.Time, error) {
		_, err := leader.KillPostgres()
		return time.Now(), err
	})
}

// frozenFor is how long replication stays frozen before the leader dies:
// past the services' 10 s request deadline, so every commit's wait for the
// standby is abandoned by its request first.
const frozenFor = 13 * time.Second

// TestHA_ReplicationFrozenThenLeaderKilled stops the leader's WAL senders
// mid-sale, as a partition between the leader and its standbys would: commits wait for a standby that never confirms, past the request
// deadline, and buyers are told 503. Then the leader dies and a standby
// that never got those commits is promoted. No buyer told won may lose the
// win: no answer was built on a commit the standby did not confirm.
func TestHA_ReplicationFrozenThenLeaderKilled(t *testing.T) {
	s := newHASystem(t, hastack.Config{})
	s.failover(s.freezeThenKill)
}

// freezeThenKill freezes replication, waits frozenFor with the crowd
// buying, then kills the leader's PostgreSQL with its frozen WAL senders.
func (s *haSystem) freezeThenKill(leader *hastack.Node) (time.Time, error) {
	lose, err := s.st.FreezeReplication(leader)
	if err != nil {
		return time.Time{}, err
	}
	s.t.Logf("froze %s's WAL senders to its %d standbys", leader.Name, len(s.st.Replicas(leader)))
	// The fault's own schedule: the time replication stays frozen.
	time.Sleep(frozenFor)
	pid, err := leader.KillPostgres()
	lose()
	s.t.Logf("SIGKILLed %s's postmaster (pid %d) and its WAL senders after %s of frozen replication", leader.Name, pid, frozenFor)
	return time.Now(), err
}

// TestHA_AsyncReplicationLosesWins runs the frozen-replication failover on
// a cluster with asynchronous replication, the choice the deployment does
// not make, and measures what it loses: buyers told won whose win the new
// leader does not have. It is what the synchronous tests' checks would
// catch, so it shows they can fail.
func TestHA_AsyncReplicationLosesWins(t *testing.T) {
	s := newHASystem(t, hastack.Config{ClusterConfig: hastack.ClusterConfig{Async: true}})
	ctx := context.Background()
	leader, err := s.st.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := s.sale(haStock)
	c, _ := s.haCrowd(id)
	done := make(chan error, 1)
	c.at[haAtWin] = func() {
		go func() {
			_, err := s.freezeThenKill(leader)
			done <- err
		}()
	}
	c.run(ctx)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := s.st.WaitLeader(ctx, leader, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	// HAProxy moves to the new leader after its checks see it.
	waitFor(t, 30*time.Second, "HAProxy reaches a writable leader", func() bool {
		var recovering bool
		return s.pool.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&recovering) == nil && !recovering
	})
	winners := s.byUser(`SELECT user_id, order_id::text FROM activity.winners WHERE activity_id = $1`, id)
	told, lost := 0, 0
	for i, pair := range c.load.Answers {
		for _, a := range pair {
			if a.Err == nil && a.Code == http.StatusOK && (a.Status == "won" || a.Status == "already_won") {
				told++
				if winners[c.load.First+int64(i)] != a.OrderID {
					lost++
				}
				break
			}
		}
	}
	t.Logf("asynchronous replication: %d of %d buyers told they won hold no such win on the new leader", lost, told)
	if lost == 0 {
		t.Errorf("no acknowledged win was lost with asynchronous replication: the scenario did not test what synchronous replication prevents")
	}
}

// TestHA_RollingRestart restarts every activity instance, one after the
// other, with SIGTERM while the crowd buys through HAProxy: each leaves
// rotation (its /readyz fails for SHUTDOWN_DRAIN) before it stops
// accepting, so no buyer sees a connection error or a 5xx, and HAProxy
// never had to retry or redispatch a request to hide one.
func TestHA_RollingRestart(t *testing.T) {
	s := newHASystem(t, hastack.Config{})
	id := s.sale(haStock)
	c := newCrowd(s.system, id, haUsers)
	c.RetryFor = 0
	failed := 0
	var mu sync.Mutex
	observe := c.Observe
	c.Observe = func(u int64, sent time.Time, a bench.Answer) {
		if a.Err != nil || a.Code >= 500 {
			mu.Lock()
			failed++
			if failed <= 5 {
				t.Errorf("user %d: %d %v during the rolling restart", u, a.Code, a.Err)
			}
			mu.Unlock()
		}
		observe(u, sent, a)
	}
	done := make(chan struct{})
	c.at[haAtWin/2] = func() {
		go func() {
			defer close(done)
			for _, p := range s.st.Activities {
				took, err := p.Term(30 * time.Second)
				if err != nil {
					t.Errorf("%s after SIGTERM: %v", p.Name, err)
				}
				if err := p.Start(context.Background()); err != nil {
					t.Error(err)
					return
				}
				// Back in rotation before the next one leaves.
				if err := s.st.WaitInRotation(context.Background(), p.Name, 30*time.Second); err != nil {
					t.Error(err)
				}
				t.Logf("%s restarted: it exited %s after SIGTERM", p.Name, took.Round(10*time.Millisecond))
			}
		}()
	}
	c.run(context.Background())
	<-done
	retries, redispatches, err := s.st.Retries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rolling restart of %d instances: %d failed requests; HAProxy retried %d and redispatched %d", len(s.st.Activities), failed, retries, redispatches)
	if retries+redispatches > 0 {
		t.Errorf("HAProxy retried %d and redispatched %d requests: the drain alone must keep buyers from failing", retries, redispatches)
	}
	s.verify(id, haStock, c)

	// With every instance stopped, HAProxy answers for them: in the
	// services' error envelope, not its HTML page.
	for _, p := range s.st.Activities {
		p.Stop()
	}
	var got struct {
		Code       int    `json:"code"`
		Error      string `json:"error"`
		StatusCode int    `json:"status_code"`
	}
	var ctype string
	waitFor(t, 10*time.Second, "HAProxy answers 503 in the error envelope with no instance up", func() bool {
		resp, err := http.Get(fmt.Sprintf("%s/activities/%d", s.st.ActivityURL, id))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		ctype = resp.Header.Get("Content-Type")
		return resp.StatusCode == http.StatusServiceUnavailable && json.NewDecoder(resp.Body).Decode(&got) == nil
	})
	if got.Code != 503 || got.StatusCode != 503 || got.Error != "unavailable" || ctype != "application/json" {
		t.Errorf("HAProxy's 503: %+v, Content-Type %q; want the error envelope", got, ctype)
	}
}
