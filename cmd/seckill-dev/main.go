// Command seckill-dev runs the whole stack on this machine without Docker,
// for `make run`: a PostgreSQL cluster under ./.data (started, or reused when
// already running), Jaeger when its binary is installed, and the three
// services on 8503-8505, all through internal/devstack. Ctrl-C stops
// everything it started. With -demo it also runs a short sale and tells
// what came of it; with -ha it runs the HA stack instead (make run-ha).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/seckill/seckill/internal/devstack"
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
	ports    string
	jaeger   bool
	demo     bool
	demoExit bool
	traceAll bool
	ha       bool
}

// The fixed ports of make run and make demo, as in docker-compose.yml.
const (
	productPort, activityPort, orderPort = 8503, 8504, 8505
	jaegerCollectorPort, jaegerQueryPort = 14268, 16686
)

// parsePorts reads -ports: the product, activity and order ports, in the
// order of the README's table.
func parsePorts(s string) (map[string]int, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return nil, fmt.Errorf("-ports %q: want three ports, product,activity,order", s)
	}
	ports := map[string]int{}
	for i, name := range []string{"product", "activity", "order"} {
		p, err := strconv.Atoi(strings.TrimSpace(parts[i]))
		if err != nil || p <= 0 || p > 65535 {
			return nil, fmt.Errorf("-ports %q: %q is not a port", s, parts[i])
		}
		ports[name] = p
	}
	return ports, nil
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
	fs.StringVar(&o.data, "data", ".data", "directory for the local PostgreSQL cluster and the demo's logs")
	fs.IntVar(&o.pgPort, "pg-port", defPort, "PostgreSQL port (DEV_PG_PORT); a free one is picked when it is taken")
	fs.StringVar(&o.bin, "bin", filepath.Dir(exe), "directory holding the product, activity and order binaries")
	fs.StringVar(&o.ports, "ports", fmt.Sprintf("%d,%d,%d", productPort, activityPort, orderPort),
		"the product, activity and order services' ports (CI's contract check runs a second stack on others)")
	fs.BoolVar(&o.jaeger, "jaeger", true, "start Jaeger when it is installed")
	fs.BoolVar(&o.traceAll, "trace-all", false, "trace every request (the demo does); by default the services sample as configured (1 request in 1000)")
	fs.BoolVar(&o.demo, "demo", false, "run a short sale and show what came of it; the services' logs go to files")
	fs.BoolVar(&o.demoExit, "demo-exit", false, "with -demo, stop everything after the sale instead of waiting for Ctrl-C")
	fs.BoolVar(&o.ha, "ha", false, "run the HA stack instead (make run-ha): etcd, three Patroni nodes, HAProxy, two activity instances")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if o.ha {
		return runHA(ctx, o, getenv, stdout)
	}
	ports, err := parsePorts(o.ports)
	if err != nil {
		return err
	}
	start := time.Now()
	pg, err := devstack.StartPostgres(ctx, filepath.Join(o.data, "postgres"), o.pgPort, stdout)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := pg.Stop(sctx); err != nil {
			fmt.Fprintln(stderr, "stop PostgreSQL:", err)
		}
	}()

	// make run shows the services' logs, each line behind its name; the
	// demo writes them to files so that its story is not buried in them.
	logs, closeLogs, err := logSink(o, stdout)
	if err != nil {
		return err
	}
	defer closeLogs()

	env := []string{"RELAY_INTERVAL=200ms"}
	var jaeger *devstack.Jaeger
	switch bin := devstack.JaegerBinary(getenv); {
	case !o.jaeger:
	case bin == "":
		fmt.Fprintln(stdout, "Jaeger is not installed (make tools installs it); running without tracing")
	case !devstack.Free(jaegerQueryPort) || !devstack.Free(jaegerCollectorPort):
		fmt.Fprintf(stdout, "Jaeger's ports (%d, %d) are taken; running without tracing\n", jaegerQueryPort, jaegerCollectorPort)
	default:
		if jaeger, err = devstack.StartJaeger(ctx, bin, jaegerCollectorPort, jaegerQueryPort, logs("jaeger")); err != nil {
			fmt.Fprintln(stdout, "Jaeger did not start; running without tracing:", err)
			jaeger = nil
		} else {
			defer jaeger.Stop()
		}
	}
	switch {
	case jaeger != nil && (o.demo || o.traceAll):
		// The demo's sale is short: every request is traced, to be seen.
		env = append(env, jaeger.EnvTraceAll()...)
	case jaeger != nil:
		// make run is what users load-test: the services' default
		// sampler, unless the environment says otherwise.
		env = append(env, jaeger.Env()...)
	default:
		env = append(env, "JAEGER_DISABLED=true")
	}

	// The services refuse to start without credentials: those in the
	// environment, else random ones for this run (printed below).
	stack, err := devstack.Start(ctx, devstack.Config{Bin: o.bin, DatabaseURL: pg.URL, Env: env, Log: logs,
		Ports:      ports,
		AdminToken: getenv("ADMIN_TOKEN"), ServiceToken: getenv("SERVICE_TOKEN")})
	if err != nil {
		return err
	}
	defer stack.Stop()
	printURLs(stdout, stack, pg.URL, jaeger)
	if o.demo {
		fmt.Fprintf(stdout, "stack ready in %.1fs; the services' logs are in %s\n", time.Since(start).Seconds(), filepath.Join(o.data, "logs"))
		if err := demo(ctx, stdout, stack, jaeger); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		fmt.Fprintf(stdout, "demo done in %.1fs\n", time.Since(start).Seconds())
		if o.demoExit {
			return nil
		}
	}
	fmt.Fprintln(stdout, "\nThe stack is up. Ctrl-C stops it.")
	if err := stack.Wait(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nstopping…")
	return nil
}

// logSink returns where each process's output goes: files under
// <data>/logs for the demo, and for Jaeger, whose chatter says nothing about
// seckill; else stdout with the process's name in front of each line.
func logSink(o options, stdout io.Writer) (func(name string) io.Writer, func(), error) {
	dir := filepath.Join(o.data, "logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	files := &devstack.LogFiles{Dir: dir}
	var mu sync.Mutex
	logs := func(name string) io.Writer {
		if o.demo || name == "jaeger" {
			return files.Open(name)
		}
		return &prefixWriter{mu: &mu, out: stdout, prefix: fmt.Sprintf("[%-8s] ", name)}
	}
	return logs, func() {
		if err := files.Close(); err != nil {
			fmt.Fprintln(stdout, "log files:", err)
		}
	}, nil
}

func printURLs(out io.Writer, s *devstack.Stack, dbURL string, jaeger *devstack.Jaeger) {
	fmt.Fprintln(out, "\nseckill is running:")
	for _, p := range s.Procs() {
		fmt.Fprintf(out, "  %-8s API %s   Swagger UI %s/swagger/index.html   metrics %s/metrics\n", p.Name, p.URL, p.URL, p.URL)
	}
	fmt.Fprintf(out, "  postgres  %s\n", dbURL)
	fmt.Fprintf(out, "  admin     Authorization: Bearer %s   (ADMIN_TOKEN: create, edit and delete products and activities)\n", s.AdminToken)
	if jaeger != nil {
		fmt.Fprintf(out, "  jaeger    query API %s/api/traces?service=activity (a go-installed Jaeger has no web UI; docker-compose's has)\n", jaeger.QueryURL)
	}
}

// prefixWriter writes a child's output line by line with its name in front.
// A service under load writes tens of thousands of access log lines a
// second through it, so each Write puts every whole line it completes out
// in one write, and keeps only the unfinished tail.
type prefixWriter struct {
	mu     *sync.Mutex // shared by every child: lines never interleave
	out    io.Writer
	prefix string
	buf    []byte // the unfinished line
	lines  []byte // the prefixed lines of one Write
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	n := len(p)
	w.lines = w.lines[:0]
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		w.lines = append(w.lines, w.prefix...)
		w.lines = append(w.lines, w.buf...)
		w.lines = append(w.lines, p[:i+1]...)
		w.buf = w.buf[:0]
		p = p[i+1:]
	}
	w.buf = append(w.buf, p...)
	if len(w.lines) > 0 {
		w.mu.Lock()
		_, err := w.out.Write(w.lines)
		w.mu.Unlock()
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
