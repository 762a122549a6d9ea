package reliability

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/testing/pgtest"
)

// The trickle: 4,500 clients, each sending a purchase's headers and then
// its 1,000-byte body at one byte a second, and reconnecting at once when
// the server answers or closes; more than the default connection cap
// (4,096), so they would hold every slot. They run in a child process, this
// test binary run again with trickleEnv set (see TestMain), from 127.0.0.3,
// and stop by themselves after trickleHold even if the test dies.
const (
	trickleClients = 4_500
	trickleBody    = 1_000
	trickleHold    = 90 * time.Second
	trickleEnv     = "SECKILL_TRICKLE"
)

// TestConnFlood_BodyTricklersDoNotLockOutNewClients runs 4,500 body
// tricklers against the activity service at its default settings: new
// clients are still answered within a second, and its RSS stays under
// 256 MB. (Before issue 22, a new client's GET timed out at 5 s: every
// slot held a trickler until HTTP_READ_TIMEOUT, and the tricklers
// reconnected first.)
func TestConnFlood_BodyTricklersDoNotLockOutNewClients(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 4,500 slow connections")
	}
	s := newSystem(t, pgtest.NewDB(t))
	id := s.sale(10)
	addr := strings.TrimPrefix(s.activity.URL, "http://")

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d,/activities/%d/seckill", trickleEnv, addr, trickleClients, id))
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
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	var started atomic.Bool
	report := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			switch line := sc.Text(); {
			case line == "started":
				started.Store(true)
			case strings.HasPrefix(line, "stopped"):
				report <- line
			}
		}
		close(report)
	}()
	waitFor(t, 60*time.Second, "4,500 tricklers sending", started.Load)
	// The cap is full once the service holds its 4,096 connections.
	pid := s.activity.PID()
	waitFor(t, 60*time.Second, "the service holding 4,096 connections", func() bool { return openFiles(pid) >= 4096 })
	t.Logf("%d tricklers sending; the service holds %d descriptors", trickleClients, openFiles(pid))

	var took []time.Duration
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
			d := time.Since(start)
			if err != nil {
				t.Fatalf("a new client during the trickle: %v after %s", err, d)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || d > time.Second {
				t.Errorf("a new client during the trickle: %d in %s, want 200 within 1s", resp.StatusCode, d)
			}
			took = append(took, d)
		}
	}
	slices.Sort(took)
	rss, peak := memory(t, pid)
	if peak > 256<<20 {
		t.Errorf("activity service peak RSS %d MB during the trickle, want under 256 MB", peak>>20)
	}
	stdin.Close()
	line := <-report
	var conns, cut int
	if _, err := fmt.Sscanf(line, "stopped conns %d cut %d", &conns, &cut); err != nil || cut == 0 {
		t.Errorf("trickler report %q: want some cut with 408", line)
	}
	if out := s.activity.Output(); strings.Contains(out, "too many open files") {
		t.Errorf("the activity service ran out of file descriptors")
	}
	t.Logf("during the trickle: 40 requests from new clients answered, median %s, slowest %s; activity RSS %d MB, peak %d MB; "+
		"tricklers opened %d connections, %d cut with 408", took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond),
		rss>>20, peak>>20, conns, cut)
}

// openFiles counts a process's open file descriptors.
func openFiles(pid int) int {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(fds)
}

// trickle is the child process of the trickle test: n clients send
// purchases to addr+path at a byte a second, each reconnecting as soon as
// the server answers or closes. It prints "started" once each has sent
// its headers, and, once stdin closes or trickleHold passes, "stopped
// conns C cut K": connections opened and 408 answers read.
func trickle(spec string) int {
	f := strings.Split(spec, ",")
	if len(f) != 3 || !strings.HasPrefix(f[0], "127.0.0.1:") {
		fmt.Fprintln(os.Stderr, "trickle: want 127.0.0.1:port,count,path, got", spec)
		return 2
	}
	addr, path := f[0], f[2]
	n, err := strconv.Atoi(f[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "trickle:", err)
		return 2
	}
	stop := make(chan struct{})
	var conns, cut atomic.Int64
	var wg, first sync.WaitGroup
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: trickle\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, trickleBody)
	// From 127.0.0.3, so the reconnects do not use up 127.0.0.1's
	// ephemeral ports, which other packages' tests listen on.
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}}
	first.Add(n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			once := sync.OnceFunc(first.Done)
			defer once()
			buf := make([]byte, 64)
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := d.Dial("tcp", addr)
				if err != nil {
					time.Sleep(100 * time.Millisecond) // pacing: no hot loop while the service is not there
					continue
				}
				conns.Add(1)
				if _, err := io.WriteString(c, head); err == nil {
					once()
					for sent := 0; sent < trickleBody; sent++ {
						if _, err := c.Write([]byte{' '}); err != nil {
							break
						}
						// The pacing: a byte a second, and the answer or close as
						// soon as it comes.
						_ = c.SetReadDeadline(time.Now().Add(time.Second))
						k, err := c.Read(buf)
						if k > 0 {
							if bytes.HasPrefix(buf[:k], []byte("HTTP/1.1 408")) {
								cut.Add(1)
							}
							break
						}
						var ne net.Error
						if !errors.As(err, &ne) || !ne.Timeout() {
							break
						}
						select {
						case <-stop:
							c.Close()
							return
						default:
						}
					}
				}
				c.Close()
			}
		}()
	}
	first.Wait()
	fmt.Println("started")
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(done) }()
	select {
	case <-done:
	case <-time.After(trickleHold):
	}
	close(stop)
	wg.Wait()
	fmt.Printf("stopped conns %d cut %d\n", conns.Load(), cut.Load())
	return 0
}
