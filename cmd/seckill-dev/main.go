// Command seckill-dev runs the whole stack on this machine without Docker,
// for `make run`: a PostgreSQL cluster under ./.data (started, or reused when
// already running), Jaeger when its binary is installed, and the three
// services. Ctrl-C stops everything it started. With -demo it also seeds a
// product and an activity and runs a short sale.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/seckill/seckill/internal/devstack/devtools"
	"github.com/seckill/seckill/internal/devstack/pgserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "seckill-dev:", err)
		os.Exit(1)
	}
}

type options struct {
	data     string
	pgPort   int
	bin      string
	demo     bool
	demoExit bool
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	defPort, _ := strconv.Atoi(getenv("DEV_PG_PORT"))
	if defPort == 0 {
		defPort = 5432
	}
	exe, _ := os.Executable()
	fs.StringVar(&o.data, "data", ".data", "directory for the local PostgreSQL cluster")
	fs.IntVar(&o.pgPort, "pg-port", defPort, "PostgreSQL port (DEV_PG_PORT); a free one is picked when it is taken")
	fs.StringVar(&o.bin, "bin", filepath.Dir(exe), "directory holding the product, activity and order binaries")
	fs.BoolVar(&o.demo, "demo", false, "seed a product and an activity and run a short sale")
	fs.BoolVar(&o.demoExit, "demo-exit", false, "with -demo, stop everything after the sale instead of waiting for Ctrl-C")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	s := &stack{out: stdout, getenv: getenv}
	defer s.stop()
	if err := s.startPostgres(ctx, o); err != nil {
		return err
	}
	s.startJaeger(ctx, getenv)
	if err := s.startServices(ctx, o.bin); err != nil {
		return err
	}
	s.printURLs()
	if o.demo {
		if err := demo(ctx, stdout, s.urls); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		if o.demoExit {
			return nil
		}
	}
	fmt.Fprintln(stdout, "\nThe stack is up. Ctrl-C stops it.")
	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "\nstopping…")
		return nil
	case err := <-s.exited:
		return err
	}
}

// stack is what seckill-dev started, in order, so it can stop it in reverse.
type stack struct {
	out     io.Writer
	getenv  func(string) string
	pg      *pgserver.Cluster
	ownPG   bool
	dbURL   string
	jaeger  *exec.Cmd
	jaegerQ string
	procs   []*proc
	urls    map[string]string
	exited  chan error
	outMu   sync.Mutex
}

type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	tail *tail
}

func (s *stack) startPostgres(ctx context.Context, o options) error {
	dir, err := filepath.Abs(filepath.Join(o.data, "postgres"))
	if err != nil {
		return err
	}
	port := o.pgPort
	if p := runningPort(dir); p != 0 {
		port = p // a cluster from an earlier run is still up: reuse it
	} else if !free(port) {
		p, err := pgserver.FreePort()
		if err != nil {
			return err
		}
		fmt.Fprintf(s.out, "port %d is taken; PostgreSQL will listen on %d\n", port, p)
		port = p
	}
	c, err := pgserver.New(ctx, dir, port)
	if err != nil {
		return err
	}
	s.pg = c
	if c.Dir != dir {
		fmt.Fprintf(s.out, "the postgres user cannot reach %s, so it links to the cluster in %s\n", dir, c.Dir)
	}
	if c.Running(ctx) {
		fmt.Fprintf(s.out, "reusing PostgreSQL in %s on port %d\n", dir, port)
	} else {
		fmt.Fprintf(s.out, "starting PostgreSQL in %s on port %d\n", dir, port)
		if err := c.Start(ctx); err != nil {
			return err
		}
		s.ownPG = true
	}
	if err := c.CreateDatabase(ctx, "seckill", ""); err != nil {
		return err
	}
	s.dbURL = c.URL("seckill")
	return nil
}

// runningPort reads the port of a running cluster from its postmaster.pid.
func runningPort(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 4 {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(lines[0]))
	port, _ := strconv.Atoi(strings.TrimSpace(lines[3]))
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return 0
	}
	return port
}

func free(port int) bool {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

func (s *stack) startJaeger(ctx context.Context, getenv func(string) string) {
	bin := devtools.JaegerBinary(getenv)
	if bin == "" {
		fmt.Fprintln(s.out, "Jaeger is not installed (make tools installs it); running without tracing")
		return
	}
	if !free(16686) || !free(14268) {
		fmt.Fprintln(s.out, "Jaeger's ports (16686, 14268) are taken; running without tracing")
		return
	}
	cmd := exec.Command(bin,
		"--collector.http-server.host-port=127.0.0.1:14268",
		"--collector.grpc-server.host-port=127.0.0.1:14250",
		"--query.http-server.host-port=127.0.0.1:16686",
		"--query.grpc-server.host-port=127.0.0.1:16685",
		"--admin.http.host-port=127.0.0.1:14269",
		"--http-server.host-port=127.0.0.1:5778",
		"--processor.jaeger-compact.server-host-port=127.0.0.1:6831",
		"--processor.jaeger-binary.server-host-port=127.0.0.1:6832",
		"--processor.zipkin-compact.server-host-port=127.0.0.1:5775")
	cmd.Env = append(os.Environ(), "SPAN_STORAGE_TYPE=memory")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t := &tail{}
	cmd.Stdout, cmd.Stderr = t, t
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(s.out, "Jaeger did not start:", err)
		return
	}
	s.jaeger = cmd
	if err := waitHTTP(ctx, "http://127.0.0.1:16686/api/services", 30*time.Second); err != nil {
		fmt.Fprintln(s.out, "Jaeger did not become ready; running without tracing:", err)
		s.stopCmd(cmd, nil)
		s.jaeger = nil
		return
	}
	s.jaegerQ = "http://127.0.0.1:16686"
}

var services = []struct {
	name string
	port int
}{{"product", 8503}, {"order", 8505}, {"activity", 8504}}

func (s *stack) startServices(ctx context.Context, bin string) error {
	s.urls = map[string]string{}
	for _, svc := range services {
		s.urls[svc.name] = fmt.Sprintf("http://127.0.0.1:%d", svc.port)
	}
	env := []string{
		"DATABASE_URL=" + s.dbURL,
		"PRODUCT_SERVICE_URL=" + s.urls["product"],
		"ORDER_SERVICE_URL=" + s.urls["order"],
	}
	if s.jaegerQ != "" {
		// Every request is traced: this is a demo stack, not a load test.
		env = append(env, "JAEGER_ENDPOINT=http://127.0.0.1:14268/api/traces", "JAEGER_SAMPLER_TYPE=const", "JAEGER_SAMPLER_PARAM=1")
	} else {
		env = append(env, "JAEGER_DISABLED=true")
	}
	s.exited = make(chan error, len(services))
	for _, svc := range services {
		path := filepath.Join(bin, svc.name)
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("%s: %w (run make build first)", path, err)
		}
		if !free(svc.port) {
			return fmt.Errorf("port %d for the %s service is taken", svc.port, svc.name)
		}
		cmd := exec.Command(path)
		cmd.Env = append(append(os.Environ(), env...), fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", svc.port))
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		p := &proc{name: svc.name, cmd: cmd, done: make(chan struct{}), tail: &tail{}}
		w := &prefixWriter{s: s, prefix: fmt.Sprintf("[%-8s] ", svc.name), tail: p.tail}
		cmd.Stdout, cmd.Stderr = w, w
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start %s: %w", svc.name, err)
		}
		s.procs = append(s.procs, p)
		go func() {
			err := cmd.Wait()
			close(p.done)
			s.exited <- fmt.Errorf("the %s service exited (%v); its last lines:\n%s", p.name, err, p.tail.String())
		}()
		if err := waitHTTP(ctx, s.urls[svc.name]+"/healthz", 60*time.Second); err != nil {
			return fmt.Errorf("%s did not become healthy: %w\n%s", svc.name, err, p.tail.String())
		}
	}
	return nil
}

func (s *stack) printURLs() {
	fmt.Fprintln(s.out, "\nseckill is running:")
	for _, svc := range services {
		u := s.urls[svc.name]
		fmt.Fprintf(s.out, "  %-8s API %s   Swagger UI %s/swagger/index.html   metrics %s/metrics\n", svc.name, u, u, u)
	}
	fmt.Fprintf(s.out, "  postgres  %s\n", s.dbURL)
	if s.jaegerQ != "" {
		fmt.Fprintf(s.out, "  jaeger    query API %s/api/traces?service=activity (a go-installed Jaeger has no web UI; docker-compose's has)\n", s.jaegerQ)
	}
}

// stop stops what was started, newest first.
func (s *stack) stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.stopCmd(s.procs[i].cmd, s.procs[i].done)
	}
	if s.jaeger != nil {
		s.stopCmd(s.jaeger, nil)
	}
	if s.pg != nil && s.ownPG {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.pg.Stop(ctx); err != nil {
			fmt.Fprintln(s.out, "stop PostgreSQL:", err)
		}
	}
}

// stopCmd sends SIGTERM, waits up to 20 s, then kills.
func (s *stack) stopCmd(cmd *exec.Cmd, done chan struct{}) {
	if cmd.Process == nil {
		return
	}
	if done == nil {
		done = make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func waitHTTP(ctx context.Context, url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// prefixWriter writes a child's output line by line with its name in front.
type prefixWriter struct {
	s      *stack
	prefix string
	tail   *tail
	buf    []byte
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	_, _ = w.tail.Write(p)
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			break
		}
		w.s.outMu.Lock()
		fmt.Fprintf(w.s.out, "%s%s\n", w.prefix, w.buf[:i])
		w.s.outMu.Unlock()
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// tail keeps the last lines a process wrote, to explain why it died.
type tail struct {
	mu    sync.Mutex
	lines []string
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	sc := bufio.NewScanner(strings.NewReader(string(p)))
	for sc.Scan() {
		t.lines = append(t.lines, sc.Text())
		if len(t.lines) > 20 {
			t.lines = t.lines[1:]
		}
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
