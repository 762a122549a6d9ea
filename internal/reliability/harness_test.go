package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seckill/seckill/internal/devstack/pgserver"
	"github.com/seckill/seckill/internal/testing/pgtest"
)

var binDir string

// TestMain builds the three services once; every test runs them as
// subprocesses.
func TestMain(m *testing.M) {
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

// proc is one service running as a subprocess on a fixed port, so that a
// restart comes back at the same address.
type proc struct {
	t    *testing.T
	name string
	port int
	env  []string
	cmd  *exec.Cmd
	done chan error
	// exited is set when the current run's process has exited.
	exited atomic.Bool

	mu  sync.Mutex
	log bytes.Buffer // every run's output, for the report of a failed test
}

func (p *proc) url() string { return fmt.Sprintf("http://127.0.0.1:%d", p.port) }

func newProc(t *testing.T, name string, env map[string]string) *proc {
	port, err := pgserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, name: name, port: port}
	for k, v := range env {
		p.env = append(p.env, k+"="+v)
	}
	p.env = append(p.env, fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", port), "ACCESS_LOG=false", "LOG_LEVEL=warn",
		"JAEGER_DISABLED=true", "RELAY_INTERVAL=200ms", "SHUTDOWN_TIMEOUT=10s")
	t.Cleanup(func() {
		if p.cmd != nil && !p.exited.Load() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			out := p.output()
			if len(out) > 8000 {
				out = "…" + out[len(out)-8000:]
			}
			t.Logf("%s output:\n%s", p.name, out)
		}
	})
	return p
}

// start starts the process and waits until it answers /healthz. It may be
// called from any goroutine: it reports failure instead of stopping the test.
func (p *proc) start() error {
	p.cmd = exec.Command(filepath.Join(binDir, p.name))
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = lockedWriter{p}, lockedWriter{p}
	p.exited.Store(false)
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.done = make(chan error, 1)
	go func(cmd *exec.Cmd, done chan error) {
		err := cmd.Wait()
		p.exited.Store(true)
		done <- err
	}(p.cmd, p.done)
	if !poll(60*time.Second, func() bool { return get(p.url()+"/healthz") == 200 }) {
		return fmt.Errorf("%s not healthy within 60s", p.name)
	}
	return nil
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

type lockedWriter struct{ p *proc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.log.Write(b)
}

// kill ends the process abruptly, as a crash would.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// term sends SIGTERM and returns how long the process took to exit and its
// exit error (nil for status 0). A process still running after within is
// killed.
func (p *proc) term(within time.Duration) (time.Duration, error) {
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		return time.Since(start), err
	case <-time.After(within):
		p.kill()
		return time.Since(start), fmt.Errorf("%s did not exit within %s", p.name, within)
	}
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

func call(t *testing.T, method, url string, in, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, body)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		_ = json.Unmarshal(raw, &struct {
			Data any `json:"data"`
		}{Data: out})
	}
	return resp.StatusCode
}

// system is product, order and activity on one database.
type system struct {
	t                        *testing.T
	pool                     *pgxpool.Pool
	product, order, activity *proc
}

func newSystem(t *testing.T, dbURL string) *system {
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := &system{t: t, pool: pool}
	s.product = newProc(t, "product", map[string]string{"DATABASE_URL": dbURL})
	s.order = newProc(t, "order", map[string]string{"DATABASE_URL": dbURL})
	s.activity = newProc(t, "activity", map[string]string{"DATABASE_URL": dbURL,
		"PRODUCT_SERVICE_URL": s.product.url(), "ORDER_SERVICE_URL": s.order.url()})
	for _, p := range []*proc{s.product, s.order, s.activity} {
		if err := p.start(); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// restart starts p again from a fault running in a crowd's goroutine.
func (s *system) restart(p *proc) {
	if err := p.start(); err != nil {
		s.t.Error(err)
	}
}

// sale creates a product and an open activity with stock units.
func (s *system) sale(stock int) int64 {
	var p, a struct{ ID int64 }
	if code := call(s.t, "POST", s.product.url()+"/products", map[string]any{"name": fmt.Sprintf("r-%d", time.Now().UnixNano()),
		"price": 3.5, "inventory": stock}, &p); code != 201 {
		s.t.Fatalf("create product: %d", code)
	}
	now := time.Now()
	if code := call(s.t, "POST", s.activity.url()+"/activities", map[string]any{"name": "r", "product_id": p.ID, "stock": stock,
		"start_time": now.Add(-time.Second).Format(time.RFC3339), "end_time": now.Add(time.Hour).Format(time.RFC3339)}, &a); code != 201 {
		s.t.Fatalf("create activity: %d", code)
	}
	return a.ID
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

// answer is what a user was told; code 0 means no answer arrived.
type answer struct {
	code    int
	status  string
	orderID string
	err     error
}

// crowd sends two sequential purchase requests per user from workers
// goroutines and records the last answer to each. A request that gets no
// answer (a connection error while a process is down) or a 503 is retried
// until retryFor passes; until then its outcome is unknown, which is
// allowed, but a request that hangs past the client timeout is not.
type crowd struct {
	url      string
	users    int
	workers  int
	retryFor time.Duration
	// at maps a win count to a fault: at[n] runs once, in the goroutine
	// that receives win number n, so each fault lands mid-sale while the
	// other workers go on.
	at map[int64]func()

	answers  [][2]answer
	wins     atomic.Int64
	errors   atomic.Int64 // connection errors, each retried
	unavail  atomic.Int64 // 503 answers, each retried
	timeouts atomic.Int64 // requests that got no answer within the client timeout

	// Requests in flight at the instant mark was called, by how they ended.
	markedAt                          atomic.Int64
	inflightAnswered, inflightErrored atomic.Int64
}

func newCrowd(s *system, id int64, users int) *crowd {
	return &crowd{url: fmt.Sprintf("%s/activities/%d/seckill", s.activity.url(), id), users: users, workers: 32,
		retryFor: 30 * time.Second, at: map[int64]func(){}}
}

// clientTimeout bounds every purchase request: an answer that takes longer
// counts as a hang.
const clientTimeout = 10 * time.Second

func (c *crowd) run(ctx context.Context) {
	c.answers = make([][2]answer, c.users+1)
	client := &http.Client{Timeout: clientTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: c.workers}}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				u := next.Add(1)
				if u > int64(c.users) || ctx.Err() != nil {
					return
				}
				for k := range 2 {
					c.answers[u][k] = c.buy(ctx, client, u)
				}
			}
		}()
	}
	wg.Wait()
}

// mark records the current instant: requests in flight then are counted
// by how they end.
func (c *crowd) mark() { c.markedAt.Store(time.Now().UnixNano()) }

func (c *crowd) buy(ctx context.Context, client *http.Client, user int64) answer {
	deadline := time.Now().Add(c.retryFor)
	for {
		a := c.post(ctx, client, user)
		switch {
		case a.code == 200:
			if a.status == "won" {
				if fault := c.at[c.wins.Add(1)]; fault != nil {
					fault()
				}
			}
			return a
		case a.code == 503:
			c.unavail.Add(1)
		case a.code == 0:
			c.errors.Add(1)
			var ne net.Error
			if errors.As(a.err, &ne) && ne.Timeout() {
				c.timeouts.Add(1)
			}
		default:
			return a
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return a
		}
		time.Sleep(20 * time.Millisecond) // back off before retrying a request that got no answer
	}
}

func (c *crowd) post(ctx context.Context, client *http.Client, user int64) answer {
	start := time.Now().UnixNano()
	a := post(ctx, client, c.url, user)
	if m := c.markedAt.Load(); m != 0 && start < m && time.Now().UnixNano() > m {
		if a.code == 0 {
			c.inflightErrored.Add(1)
		} else {
			c.inflightAnswered.Add(1)
		}
	}
	return a
}

func post(ctx context.Context, client *http.Client, url string, user int64) answer {
	req, _ := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(fmt.Sprintf(`{"user_id":%d}`, user)))
	resp, err := client.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	var env struct {
		Data struct {
			Status  string `json:"status"`
			OrderID string `json:"order_id"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		// The status line came but the body broke off: no answer.
		return answer{err: err}
	}
	return answer{code: resp.StatusCode, status: env.Data.Status, orderID: env.Data.OrderID}
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

// ordersOf reads the activity's orders from the order service, page by
// page, and returns the order id of each user; a user with two orders or
// an order listed twice fails the test.
func (s *system) ordersOf(id int64) (map[int64]string, int) {
	t := s.t
	t.Helper()
	out := map[int64]string{}
	seen := map[string]bool{}
	listed := 0
	for offset := 0; ; offset += 100 {
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(fmt.Sprintf("%s/orders?activity_id=%d&limit=100&offset=%d", s.order.url(), id, offset))
		if err != nil {
			t.Fatalf("list orders: %v", err)
		}
		var page struct {
			Data []struct {
				ID         string `json:"id"`
				UserID     int64  `json:"user_id"`
				ActivityID int64  `json:"activity_id"`
			} `json:"data"`
			Pagination struct{ Total int } `json:"pagination"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("list orders: %d %v", resp.StatusCode, err)
		}
		for _, o := range page.Data {
			listed++
			if o.ActivityID != id || seen[o.ID] || out[o.UserID] != "" {
				t.Errorf("order %s of user %d in activity %d: listed twice, another activity's or the user's second order", o.ID, o.UserID, o.ActivityID)
			}
			seen[o.ID] = true
			out[o.UserID] = o.ID
		}
		if offset+100 >= page.Pagination.Total {
			if listed != page.Pagination.Total {
				t.Errorf("listed %d orders, the total says %d", listed, page.Pagination.Total)
			}
			return out, listed
		}
	}
}

// verify checks every promise of a finished sale and logs the counts: the
// database holds exactly stock winners, one per user; every won and
// already_won answer is a winner with that order id; no winner was told
// sold_out; nothing failed with a 500 or hung; and once the relay drained,
// the order service lists exactly one order per winner, with the winner's
// order id, and nothing else.
func (s *system) verify(id int64, stock int, c *crowd) {
	t := s.t
	t.Helper()
	var rows, users int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT user_id) FROM activity.winners WHERE activity_id = $1`,
		id).Scan(&rows, &users); err != nil {
		t.Fatal(err)
	}
	if rows != stock || users != rows {
		t.Errorf("%d winner rows for %d users, want %d of each", rows, users, stock)
	}
	winners := s.byUser(`SELECT user_id, order_id::text FROM activity.winners WHERE activity_id = $1`, id)

	var won, already, soldOut, unknown int
	for u := 1; u <= c.users; u++ {
		for _, a := range c.answers[u] {
			switch {
			case a.code == 200 && (a.status == "won" || a.status == "already_won"):
				if a.status == "won" {
					won++
				} else {
					already++
				}
				if winners[int64(u)] != a.orderID {
					t.Errorf("user %d was told %s %s; the database has %q", u, a.status, a.orderID, winners[int64(u)])
				}
			case a.code == 200 && a.status == "sold_out":
				soldOut++
				if o, ok := winners[int64(u)]; ok {
					t.Errorf("user %d was told sold_out, but won order %s", u, o)
				}
			case a.code == 0 || a.code == 503:
				unknown++
			default:
				t.Errorf("user %d was answered %d %q", u, a.code, a.status)
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

	waitFor(t, 60*time.Second, "relay backlog drained", func() bool {
		var st struct{ Undelivered, Failed, Remaining int64 }
		return call(t, "GET", fmt.Sprintf("%s/activities/%d/stats", s.activity.url(), id), nil, &st) == 200 &&
			st.Undelivered == 0 && st.Failed == 0 && st.Remaining == 0
	})
	orders, listed := s.ordersOf(id)
	if len(orders) != len(winners) {
		t.Errorf("the order service lists %d orders for %d winners", len(orders), len(winners))
	}
	for u, o := range winners {
		if orders[u] != o {
			t.Errorf("winner %d has order %q at the order service, want %s", u, orders[u], o)
		}
	}
	t.Logf("checked: %d winners == stock %d, %d distinct users; answers: %d won + %d already_won (all in the database with their order ids), "+
		"%d sold_out (none to a winner), %d unknown (no answer before the retry deadline, allowed), 0 other; "+
		"retried %d connection errors and %d 503s, %d hangs; order service lists %d orders, one per winner, same ids, no extras",
		len(winners), stock, users, won, already, soldOut, unknown, c.errors.Load(), c.unavail.Load(), c.timeouts.Load(), listed)
}
