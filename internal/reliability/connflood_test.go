package reliability

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/testing/pgtest"
)

// The flood: 20,000 keep-alive connections from one address (127.0.0.2),
// each having made one request and then idle. The process file limit here
// is 20,000 too, so two child processes hold 10,000 each; they are this
// test binary run again with floodEnv set (see TestMain), loopback only,
// and stop by themselves after floodHold even if the test dies.
const (
	floodConns = 20_000
	floodProcs = 2
	floodHold  = 90 * time.Second
	floodEnv   = "SECKILL_FLOOD_ADDR"
)

// TestConnFlood_IdleConnectionsDoNotLockOutNewClients holds 20,000 idle
// keep-alive connections open against the activity service: new clients
// are still answered within a second, the service's RSS stays under
// 256 MB, and it never runs out of file descriptors. (Without a cap, the
// connections exhausted the descriptors and RSS grew to 461 MB.)
func TestConnFlood_IdleConnectionsDoNotLockOutNewClients(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 20,000 connections")
	}
	s := newSystem(t, pgtest.NewDB(t))
	id := s.sale(10)
	addr := strings.TrimPrefix(s.activity.URL, "http://")

	var held atomic.Int64
	var wg sync.WaitGroup
	var stops []io.Closer
	for range floodProcs {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), floodEnv+"="+addr+","+strconv.Itoa(floodConns/floodProcs))
		stdin, err := cmd.StdinPipe() // closing it tells the child to stop
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		stops = append(stops, stdin)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "opened ")); err == nil {
					held.Add(int64(n))
				}
			}
		}()
		t.Cleanup(func() {
			stdin.Close()
			_ = cmd.Wait()
		})
	}
	waitFor(t, 60*time.Second, "20,000 connections opened", func() bool { return held.Load() >= floodConns })
	t.Logf("%d keep-alive connections opened, each with one request answered, then left idle", held.Load())

	// New clients, each on a fresh connection, while the flood holds.
	slowest := time.Duration(0)
	for i := range 20 {
		for _, req := range []func() (*http.Response, error){
			func() (*http.Response, error) { return freshClient().Get(s.activity.URL + "/readyz") },
			func() (*http.Response, error) {
				return freshClient().Post(fmt.Sprintf("%s/activities/%d/seckill", s.activity.URL, id), "application/json",
					strings.NewReader(fmt.Sprintf(`{"user_id":%d}`, i+1)))
			},
		} {
			start := time.Now()
			resp, err := req()
			took := time.Since(start)
			if err != nil {
				t.Fatalf("a new client during the flood: %v after %s", err, took)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || took > time.Second {
				t.Errorf("a new client during the flood: %d in %s, want 200 within 1s", resp.StatusCode, took)
			}
			slowest = max(slowest, took)
		}
	}
	rss, peak := memory(t, s.activity.PID())
	if peak > 256<<20 {
		t.Errorf("activity service peak RSS %d MB during the flood, want under 256 MB", peak>>20)
	}
	for _, c := range stops {
		c.Close()
	}
	wg.Wait()
	if out := s.activity.Output(); strings.Contains(out, "too many open files") {
		t.Errorf("the activity service ran out of file descriptors")
	}
	t.Logf("during the flood: 40 requests from new clients answered, the slowest in %s; activity RSS %d MB, peak %d MB",
		slowest.Round(time.Millisecond), rss>>20, peak>>20)
}

// freshClient opens a new connection for every request, as a new client does.
func freshClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
}

// memory reads a process's resident set and its peak, in bytes.
func memory(t *testing.T, pid int) (rss, peak int64) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return rss, peak
}

// flood is the child process of the flood test: it opens n keep-alive
// connections to addr, sends one request on each and reads its answer,
// reports "opened n" on stdout, and holds them until stdin closes or
// floodHold passes.
func flood(spec string) int {
	addr, ns, _ := strings.Cut(spec, ",")
	n, err := strconv.Atoi(ns)
	if err != nil || !strings.HasPrefix(addr, "127.0.0.1:") {
		fmt.Fprintln(os.Stderr, "flood: want 127.0.0.1:port,count, got", spec)
		return 2
	}
	conns := make(chan net.Conn, n)
	var wg sync.WaitGroup
	var failed atomic.Int64
	next := make(chan struct{}, n)
	for range n {
		next <- struct{}{}
	}
	close(next)
	// From 127.0.0.2, another loopback address: 20,000 connections from
	// 127.0.0.1 would hold most of its ephemeral ports, which the tests of
	// other packages running meanwhile pick their listening ports from.
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				c, err := d.Dial("tcp", addr)
				if err != nil {
					failed.Add(1)
					continue
				}
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				_, err = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: flood\r\n\r\n")
				if err == nil {
					var resp *http.Response
					if resp, err = http.ReadResponse(bufio.NewReader(c), nil); err == nil {
						_, err = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
				if err != nil {
					failed.Add(1)
				}
				conns <- c // kept open either way: it holds a descriptor on both sides until closed
			}
		}()
	}
	wg.Wait()
	fmt.Printf("opened %d\n", n)
	if f := failed.Load(); f > 0 {
		fmt.Fprintf(os.Stderr, "flood: %d of %d connections failed their request\n", f, n)
	}
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(done) }()
	select {
	case <-done:
	case <-time.After(floodHold):
	}
	close(conns)
	for c := range conns {
		c.Close()
	}
	return 0
}
