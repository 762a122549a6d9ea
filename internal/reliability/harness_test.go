package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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

	"github.com/seckill/seckill/internal/platform/pgserver"
	"github.com/seckill/seckill/internal/platform/pgtest"
)

var binDir string

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
	log  *bytes.Buffer
	mu   sync.Mutex
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
		if p.cmd != nil && p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) start() {
	p.t.Helper()
	p.cmd = exec.Command(filepath.Join(binDir, p.name))
	p.cmd.Env = append(os.Environ(), p.env...)
	p.log = &bytes.Buffer{}
	p.cmd.Stdout, p.cmd.Stderr = lockedWriter{p}, lockedWriter{p}
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	p.done = make(chan error, 1)
	go func() { p.done <- p.cmd.Wait() }()
	waitFor(p.t, 60*time.Second, p.name+" healthy", func() bool { return get(p.url()+"/healthz") == 200 })
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

// term sends SIGTERM and returns the exit error and how long it took.
func (p *proc) term(within time.Duration) (error, time.Duration) {
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		return err, time.Since(start)
	case <-time.After(within):
		p.kill()
		return fmt.Errorf("%s did not exit within %s", p.name, within), time.Since(start)
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

// waitFor polls cond until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(50 * time.Millisecond) // polling interval of a deadline-bounded wait
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
	s.product.start()
	s.order.start()
	s.activity = newProc(t, "activity", map[string]string{"DATABASE_URL": dbURL,
		"PRODUCT_SERVICE_URL": s.product.url(), "ORDER_SERVICE_URL": s.order.url()})
	s.activity.start()
	return s
}

// sale creates a product and an open activity with stock units.
func (s *system) sale(stock int) int64 {
	var p, a struct{ ID int64 }
	call(s.t, "POST", s.product.url()+"/products", map[string]any{"name": fmt.Sprintf("r-%d", time.Now().UnixNano()), "price": 3.5, "inventory": stock}, &p)
	now := time.Now()
	if code := call(s.t, "POST", s.activity.url()+"/activities", map[string]any{"name": "r", "product_id": p.ID, "stock": stock,
		"start_time": now.Add(-time.Second).Format(time.RFC3339), "end_time": now.Add(time.Hour).Format(time.RFC3339)}, &a); code != 201 {
		s.t.Fatalf("create activity: %d", code)
	}
	return a.ID
}

// answer is what a user was told; code 0 means no answer arrived.
type answer struct {
	code    int
	status  string
	orderID string
	err     error
}

// crowd sends two sequential purchase requests per user from workers
// goroutines. A request that gets no answer (a connection error while a
// process is down) or a 503 is retried until retryFor passes; its outcome
// is unknown until then, which is allowed. onAnswer sees every answer.
type crowd struct {
	url      string
	users    int
	workers  int
	retryFor time.Duration
	answers  [][2]answer
	wins     atomic.Int64
	errors   atomic.Int64
	unavail  atomic.Int64
	// at, when set, runs once in the goroutine that receives win number
	// atWin, so a fault lands exactly mid-sale; the other workers go on.
	atWin int64
	at    func()
	once  sync.Once
}

func (c *crowd) run(ctx context.Context) {
	c.answers = make([][2]answer, c.users+1)
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: c.workers}}
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

func (c *crowd) buy(ctx context.Context, client *http.Client, user int64) answer {
	deadline := time.Now().Add(c.retryFor)
	for {
		a := post(ctx, client, c.url, user)
		switch {
		case a.code == 200:
			if a.status == "won" && c.wins.Add(1) == c.atWin && c.at != nil {
				c.once.Do(c.at)
			}
			return a
		case a.code == 503:
			c.unavail.Add(1)
		case a.code == 0:
			c.errors.Add(1)
		default:
			return a
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return a
		}
		time.Sleep(20 * time.Millisecond) // back off before retrying a request that got no answer
	}
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
	_ = json.NewDecoder(resp.Body).Decode(&env)
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

// verify checks every promise of a finished sale and logs the counts.
func (s *system) verify(id int64, stock int, c *crowd) {
	t := s.t
	t.Helper()
	winners := s.byUser(`SELECT user_id, order_id::text FROM activity.winners WHERE activity_id = $1`, id)
	if len(winners) != stock {
		t.Errorf("%d winners in the database, want %d", len(winners), stock)
	}
	told, unknown := 0, 0
	for u := 1; u <= c.users; u++ {
		for _, a := range c.answers[u] {
			if a.code != 200 {
				unknown++
				continue
			}
			if a.status == "won" || a.status == "already_won" {
				told++
				if winners[int64(u)] != a.orderID {
					t.Errorf("user %d was told %s %s; the database has %q", u, a.status, a.orderID, winners[int64(u)])
				}
			}
		}
	}
	waitFor(t, 60*time.Second, "relay backlog drained", func() bool {
		var st struct{ Undelivered, Failed int64 }
		return call(t, "GET", fmt.Sprintf("%s/activities/%d/stats", s.activity.url(), id), nil, &st) == 200 && st.Undelivered == 0 && st.Failed == 0
	})
	orders := s.byUser(`SELECT user_id, id::text FROM orders.orders WHERE activity_id = $1`, id)
	if len(orders) != len(winners) {
		t.Errorf("%d orders for %d winners", len(orders), len(winners))
	}
	for u, o := range winners {
		if orders[u] != o {
			t.Errorf("winner %d has order %q, want %s", u, orders[u], o)
		}
	}
	t.Logf("checked: %d winners == stock %d; %d won/already_won answers all in the database with their order ids; "+
		"%d orders, one per winner; %d answers never arrived (outcome unknown, allowed); %d connection errors and %d 503s were retried",
		len(winners), stock, told, len(orders), unknown, c.errors.Load(), c.unavail.Load())
}
