package reliability

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seckill/seckill/internal/bench"
	"github.com/seckill/seckill/internal/devstack"
	"github.com/seckill/seckill/internal/testing/pgtest"
	"github.com/seckill/seckill/internal/testing/svctest"
)

var binDir string

// TestMain builds the three services once; every test runs them as
// subprocesses.
func TestMain(m *testing.M) {
	if spec := os.Getenv(floodEnv); spec != "" {
		os.Exit(flood(spec)) // this process is a child of the flood test
	}
	if spec := os.Getenv(trickleEnv); spec != "" {
		os.Exit(trickle(spec)) // this process is a child of the trickle test
	}
	dir, err := os.MkdirTemp("", "seckill-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	cmd := exec.Command("go", "build", "-o", dir, "../../cmd/product", "../../cmd/activity", "../../cmd/order")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build services:", err)
		os.Exit(1)
	}
	code := pgtest.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

func get(url string) int {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// poll checks cond until it holds (true) or within passes (false).
func poll(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond) // polling interval of a deadline-bounded wait
	}
	return true
}

// waitFor polls cond until it holds, and fails the test when within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(within, cond) {
		t.Fatalf("%s: not within %s", what, within)
	}
}

// system is product, order and activity on one database, started by the
// same launcher as make run and make bench, each on a fixed port so that a
// restart comes back at the same address.
type system struct {
	t                        *testing.T
	pool                     *pgxpool.Pool
	dbURL                    string
	client                   *http.Client
	product, order, activity *devstack.Proc
}

// newSystem starts the three services on dbURL, each with env (NAME=value)
// added to its own.
func newSystem(t *testing.T, dbURL string, env ...string) *system {
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st, err := devstack.New(devstack.Config{Bin: binDir, DatabaseURL: dbURL, Env: append([]string{"ACCESS_LOG=false", "LOG_LEVEL=warn",
		"JAEGER_DISABLED=true", "RELAY_INTERVAL=200ms", "SHUTDOWN_TIMEOUT=10s"}, env...),
		AdminToken: svctest.AdminToken, ServiceToken: svctest.ServiceToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st.Kill()
		if t.Failed() {
			for _, p := range st.Procs() {
				out := p.Output()
				if len(out) > 8000 {
					out = "…" + out[len(out)-8000:]
				}
				t.Logf("%s output:\n%s", p.Name, out)
			}
		}
	})
	for _, p := range st.Procs() {
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return &system{t: t, pool: pool, dbURL: dbURL, client: bench.NewClient(4), product: st.Product, order: st.Order, activity: st.Activity}
}

// authorize gives req the credential its route asks for, as the real
// callers hold them: the service token for what only services call, none
// for what buyers do (the processes run in open buyer mode), the admin
// token for the rest.
func authorize(req *http.Request) {
	p := req.URL.Path
	switch {
	case strings.Contains(p, "/reservations"), req.Method == "POST" && (p == "/orders" || p == "/orders/batch"):
		req.Header.Set("Authorization", "Bearer "+svctest.ServiceToken)
	case strings.HasSuffix(p, "/settlement"), req.Method == "POST" && p == "/activities/settlements":
		req.Header.Set("Authorization", "Bearer "+svctest.ServiceToken)
	case req.Method == "POST" && (strings.HasSuffix(p, "/seckill") || strings.HasSuffix(p, "/pay") || strings.HasSuffix(p, "/cancel")):
	default:
		req.Header.Set("Authorization", "Bearer "+svctest.AdminToken)
	}
}

// restart starts p again from a fault running in a crowd's goroutine.
func (s *system) restart(p *devstack.Proc) {
	if err := p.Start(context.Background()); err != nil {
		s.t.Error(err)
	}
}

// sale creates a product and an open activity with stock units, as the
// demo and the bench do.
func (s *system) sale(stock int) int64 {
	id, err := bench.CreateSale(context.Background(), s.client, svctest.AdminToken, s.product.URL, s.activity.URL, "reliability", stock)
	if err != nil {
		s.t.Fatal(err)
	}
	return id
}

// undelivered counts the activity's wins the order service has not confirmed.
func (s *system) undelivered(id int64) int64 {
	var n int64
	if err := s.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM activity.winners WHERE activity_id = $1 AND delivered_at IS NULL`, id).Scan(&n); err != nil {
		s.t.Errorf("count undelivered wins: %v", err)
	}
	return n
}

// crowd is the bench's crowd (two sequential purchase requests per user,
// 32 workers) that retries what got no answer (a connection error while a
// process is down) or a 503 until retryFor passes: until then an outcome
// is unknown, which is allowed, but a request that hangs past the client
// timeout is not. Faults are injected at the nth win.
type crowd struct {
	bench.Crowd
	t   *testing.T
	url string
	id  int64
	// at maps a win count to a fault: at[n] runs once, in the goroutine
	// that receives win number n, so each fault lands mid-sale while the
	// other workers go on.
	at   map[int64]func()
	load bench.Load

	wins     atomic.Int64
	errors   atomic.Int64 // connection errors, each retried
	unavail  atomic.Int64 // 503 answers, each retried
	timeouts atomic.Int64 // requests that got no answer within the client timeout

	// Requests in flight at the instant mark was called, by how they ended.
	markedAt                          atomic.Int64
	inflightAnswered, inflightErrored atomic.Int64

	// Tries sent between watchFrom and watchTo (Unix nanoseconds; 0: no
	// watch), each with when it ended: see watch.
	watchFrom, watchTo atomic.Int64
	watchedMu          sync.Mutex
	watchedTries       []watchedTry
}

// watchedTry is one try of a watched period: when it was sent and ended,
// and its answer.
type watchedTry struct {
	sent, ended time.Time
	answer      bench.Answer
}

// clientTimeout bounds every purchase request: an answer that takes longer
// counts as a hang.
const clientTimeout = 10 * time.Second

func newCrowd(s *system, id int64, users int) *crowd {
	c := &crowd{t: s.t, id: id, url: fmt.Sprintf("%s/activities/%d/seckill", s.activity.URL, id), at: map[int64]func(){}}
	c.Crowd = bench.Crowd{FirstUser: 1, Users: users, Conns: 32, Timeout: clientTimeout, RetryFor: 30 * time.Second, Observe: c.observe}
	return c
}

func (c *crowd) run(ctx context.Context) {
	l, err := bench.Drive(ctx, c.url, c.Crowd)
	if err != nil {
		c.t.Fatalf("crowd: %v", err)
	}
	c.load = l
}

// mark records the current instant: requests in flight then are counted
// by how they end.
func (c *crowd) mark() { c.markedAt.Store(time.Now().UnixNano()) }

// watch records every try sent from now until to, with when it ended,
// for a test that judges the answers of a period (a drain) by when they
// came; watched returns them once the crowd has run.
func (c *crowd) watch(to time.Time) {
	c.watchTo.Store(to.UnixNano())
	c.watchFrom.Store(time.Now().UnixNano())
}

func (c *crowd) watched() []watchedTry {
	c.watchedMu.Lock()
	defer c.watchedMu.Unlock()
	return c.watchedTries
}

// observe counts each try, injects the fault of the nth win, sorts the
// requests in flight at the mark and records the watched tries.
func (c *crowd) observe(_ int64, sent time.Time, a bench.Answer) {
	if from := c.watchFrom.Load(); from != 0 && sent.UnixNano() >= from && sent.UnixNano() < c.watchTo.Load() {
		c.watchedMu.Lock()
		c.watchedTries = append(c.watchedTries, watchedTry{sent: sent, ended: time.Now(), answer: a})
		c.watchedMu.Unlock()
	}
	if m := c.markedAt.Load(); m != 0 && sent.UnixNano() < m && time.Now().UnixNano() > m {
		if a.Err != nil {
			c.inflightErrored.Add(1)
		} else {
			c.inflightAnswered.Add(1)
		}
	}
	switch {
	case a.Err != nil:
		c.errors.Add(1)
		var ne net.Error
		if errors.As(a.Err, &ne) && ne.Timeout() {
			c.timeouts.Add(1)
		}
	case a.Code == http.StatusServiceUnavailable:
		c.unavail.Add(1)
	case a.Code == http.StatusOK && a.Status == "won":
		if fault := c.at[c.wins.Add(1)]; fault != nil {
			fault()
		}
	}
}

// byUser runs a query of (user id, order id) rows for an activity.
func (s *system) byUser(q string, id int64) map[int64]string {
	s.t.Helper()
	rows, err := s.pool.Query(context.Background(), q, id)
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var u int64
		var o string
		if err := rows.Scan(&u, &o); err != nil {
			s.t.Fatal(err)
		}
		out[u] = o
	}
	return out
}

// verify checks every promise of a finished sale: the bench's checks
// (bench.Verify, in its retrying form: exactly stock orders, one per winner
// with the winner's order id, every answer that came right, the relay
// drained), and against the database, the arbiter: exactly stock winners,
// one per user, every won or already_won answer a winner with that order
// id, and no winner told sold_out. No request may have hung.
func (s *system) verify(id int64, stock int, c *crowd) {
	t := s.t
	t.Helper()
	cfg := bench.Config{ActivityURL: s.activity.URL, ProductURL: s.product.URL, OrderURL: s.order.URL, AdminToken: svctest.AdminToken,
		ActivityID: id, Stock: stock,
		RelayDeadline: 60 * time.Second, Crowd: c.Crowd}
	var passed []string
	for _, check := range bench.Verify(context.Background(), s.client, cfg, c.load) {
		if !check.OK {
			t.Errorf("%s: %s", check.Name, check.Detail)
		} else {
			passed = append(passed, check.Name+" ("+check.Detail+")")
		}
	}

	var rows, users int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT user_id) FROM activity.winners WHERE activity_id = $1`,
		id).Scan(&rows, &users); err != nil {
		t.Fatal(err)
	}
	if rows != stock || users != rows {
		t.Errorf("%d winner rows for %d users, want %d of each", rows, users, stock)
	}
	winners := s.byUser(`SELECT user_id, order_id::text FROM activity.winners WHERE activity_id = $1`, id)
	won := 0
	for i, pair := range c.load.Answers {
		u := c.load.First + int64(i)
		for _, a := range pair {
			if a.Err != nil || a.Code != http.StatusOK {
				continue
			}
			if a.Status == "won" {
				won++
			}
			if (a.Status == "won" || a.Status == "already_won") && winners[u] != a.OrderID {
				t.Errorf("user %d was told %s %s; the database has %q", u, a.Status, a.OrderID, winners[u])
			}
			if o, ok := winners[u]; ok && a.Status == "sold_out" {
				t.Errorf("user %d was told sold_out, but won order %s", u, o)
			}
		}
	}
	if won != stock {
		// Wins whose answer was lost to a crash are answered already_won on retry.
		t.Logf("%d won answers for %d winners: the other winners learned it as already_won after a lost answer", won, stock)
	}
	if n := c.timeouts.Load(); n > 0 {
		t.Errorf("%d requests got no answer within %s", n, clientTimeout)
	}
	t.Logf("checked: %d winners in the database == stock %d, %d distinct users, every won/already_won answer among them with its order id; "+
		"retried %d connection errors and %d 503s, %d hangs; answers %v; bench checks passed: %s",
		len(winners), stock, users, c.errors.Load(), c.unavail.Load(), c.timeouts.Load(), c.load.Summarize().ByStatus, strings.Join(passed, "; "))
}
