// Command seckill-bench-suite is `make bench`: in one run on this machine it
// measures the database alone doing the seckill transaction, a bare Go HTTP
// handler (the ceiling of any HTTP service here), and the real stack under
// seckill-bench, then prints the ratios and writes them to BENCHMARKS.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/seckill/seckill/internal/bench"
	"github.com/seckill/seckill/internal/devstack"
	"github.com/seckill/seckill/internal/devstack/pgserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "seckill-bench-suite:", err)
		os.Exit(1)
	}
}

type options struct {
	bin        string
	users      int
	stock      int
	conns      int
	dbDuration time.Duration
	out        string
	big        bool
	bigUsers   int
	bigStock   int
	note       string
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.bin, "bin", "bin", "directory holding the product, activity and order binaries")
	fs.IntVar(&o.users, "users", 100_000, "users of the main run")
	fs.IntVar(&o.stock, "stock", 1_000, "stock of the main run")
	fs.IntVar(&o.conns, "conns", 64, "connections")
	fs.DurationVar(&o.dbDuration, "db-duration", 3*time.Second, "how long each database baseline level runs")
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", "where to write the table")
	fs.BoolVar(&o.big, "big", getenv("BENCH_BIG") == "1", "also run 1,000,000 users with stock 10,000 for the memory target (BENCH_BIG=1)")
	fs.IntVar(&o.bigUsers, "big-users", 1_000_000, "users of the big run")
	fs.IntVar(&o.bigStock, "big-stock", 10_000, "stock of the big run")
	fs.StringVar(&o.note, "note", getenv("BENCH_NOTE"), "a remark on the machine's conditions, printed under the heading (BENCH_NOTE)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "seckill-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	fmt.Fprintln(stdout, "== PostgreSQL (fsync and synchronous_commit on, as in production)")
	cluster, err := pgserver.New(ctx, filepath.Join(tmp, "pg"), 0, "max_connections=300", "shared_buffers=256MB")
	if err != nil {
		return err
	}
	if err := cluster.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = cluster.Stop(sctx)
	}()
	// The baseline gets a database of its own: its winners would otherwise
	// sit in the stack's outbox, and the relay would spend the stack's run
	// delivering them.
	baseURL, err := migratedDatabase(ctx, cluster, "baseline")
	if err != nil {
		return err
	}
	dbURL, err := migratedDatabase(ctx, cluster, "seckill")
	if err != nil {
		return err
	}

	fmt.Fprintln(stdout, "== 1. database baseline: one winner insert + conditional stock update per committed transaction")
	base, err := baseline(ctx, baseURL, o.dbDuration, stdout)
	if err != nil {
		return err
	}

	fmt.Fprintln(stdout, "== 2. ceiling: a bare Go handler answering a small JSON body, same client")
	ceiling, err := ceiling(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  %.0f requests/s\n", ceiling.RPS)

	fmt.Fprintln(stdout, "== 3. the real stack under seckill-bench (tracing at its default sampler)")
	main, rss, err := stackRun(ctx, o, dbURL, tmp, sale{users: o.users, stock: o.stock}, stdout, stderr)
	if err != nil {
		return err
	}
	main.Print(stdout)
	res := result{cores: runtime.NumCPU(), base: base, ceiling: ceiling, main: main, rss: rss, o: o}

	// One run against another differs by up to a tenth here, as much as
	// the cost being measured: tracing's cost is the ratio of medians over
	// alternating runs with tracing off and on, the main run the first of
	// the traced ones.
	fmt.Fprintf(stdout, "== 4. the full-speed sale, tracing off and on in turn (%d runs each), for what tracing costs\n", tracingRuns)
	res.traced = []bench.Report{main}
	for i := range tracingRuns {
		off, _, err := stackRun(ctx, o, dbURL, tmp, sale{users: o.users, stock: o.stock, env: []string{"JAEGER_DISABLED=true"}}, stdout, stderr)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  tracing off: %.0f requests/s\n", off.Stats.RPS)
		res.untraced = append(res.untraced, off)
		if i == tracingRuns-1 {
			break
		}
		on, _, err := stackRun(ctx, o, dbURL, tmp, sale{users: o.users, stock: o.stock}, stdout, stderr)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  tracing on:  %.0f requests/s\n", on.Stats.RPS)
		res.traced = append(res.traced, on)
	}

	// At full speed every request waits behind the other connections' (by
	// Little's law the mean latency is connections / throughput), so the
	// latency a buyer sees is measured again at the rate the goal asks for.
	goal := 10 * res.bestBase().tps
	fmt.Fprintf(stdout, "== 5. the same sale paced to the goal, 10x the database: %.0f requests/s\n", goal)
	paced, _, err := stackRun(ctx, o, dbURL, tmp, sale{users: o.users, stock: o.stock, rate: goal}, stdout, stderr)
	if err != nil {
		return err
	}
	paced.Print(stdout)
	res.paced = paced

	if o.big {
		fmt.Fprintf(stdout, "== 6. memory: %d users, stock %d, on a fresh activity process\n", o.bigUsers, o.bigStock)
		big, bigRSS, err := stackRun(ctx, o, dbURL, tmp, sale{users: o.bigUsers, stock: o.bigStock}, stdout, stderr)
		if err != nil {
			return err
		}
		big.Print(stdout)
		res.big, res.bigRSS = &big, bigRSS
	}
	table := res.table()
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, table)
	// The charts live beside BENCHMARKS.md, which shows them.
	chartDir := filepath.Join(filepath.Dir(o.out), chartsDir)
	if err := os.MkdirAll(chartDir, 0o755); err != nil {
		return err
	}
	for name, svg := range res.charts() {
		if err := os.WriteFile(filepath.Join(chartDir, name), svg, 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(o.out, []byte(res.markdown(table)), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwritten to %s\n", o.out)
	if !res.allOK() {
		return fmt.Errorf("verification failed")
	}
	return nil
}

// ceiling loads a minimal handler with the same client and user pattern.
func ceiling(ctx context.Context, o options) (bench.Stats, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return bench.Stats{}, err
	}
	body := []byte(`{"code":0,"message":"ok","data":{"won":false,"status":"sold_out"}}` + "\n")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(body)
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	var st bench.Stats
	err = runBench(ctx, o, &st, nil, "-drive-only", "http://"+ln.Addr().String()+"/", "-users", strconv.Itoa(o.users),
		"-conns", strconv.Itoa(o.conns), "-progress=false")
	return st, err
}

// runBench runs bin/seckill-bench in a process of its own, so that every
// load comes from the same client in the same state, and decodes its JSON.
// runBench runs seckill-bench with args and env added to this process's
// environment, and decodes its JSON output into out.
func runBench(ctx context.Context, o options, out any, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(o.bin, "seckill-bench"), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	raw, err := cmd.Output()
	if jerr := json.Unmarshal(raw, out); jerr != nil {
		return fmt.Errorf("seckill-bench %v: %v (output %q)", args, errors.Join(err, jerr), raw)
	}
	return nil
}

// sale is one run of the real stack: its crowd, its pace (requests/s; 0:
// full speed) and any extra environment for the services.
type sale struct {
	users, stock int
	rate         float64
	env          []string
}

// stackRun starts the three services on the cluster with the launcher make
// run uses, runs seckill-bench against them, and returns its report and the
// activity process's peak RSS.
func stackRun(ctx context.Context, o options, dbURL, tmp string, s sale, stdout, stderr io.Writer) (bench.Report, int64, error) {
	logs := &devstack.LogFiles{Dir: tmp}
	defer logs.Close()
	// The services run with their defaults (access log on, info logs,
	// tracing at the default sampler): users load-test the defaults, so
	// that is what is measured. Their logs go to files in tmp.
	st, err := devstack.Start(ctx, devstack.Config{Bin: o.bin, DatabaseURL: dbURL, Env: s.env, Log: logs.Open})
	if err != nil {
		return bench.Report{}, 0, err
	}
	defer st.Stop()
	var r bench.Report
	// The admin token goes by the environment, not a flag ps would show.
	err = runBench(ctx, o, &r, []string{"ADMIN_TOKEN=" + st.AdminToken}, "-activity", st.Activity.URL, "-product", st.Product.URL, "-order", st.Order.URL,
		"-stock", strconv.Itoa(s.stock), "-users", strconv.Itoa(s.users), "-conns", strconv.Itoa(o.conns),
		"-relay-deadline", "2m", "-rate", strconv.FormatFloat(s.rate, 'f', 0, 64), "-json")
	if err != nil {
		return bench.Report{}, 0, err
	}
	return r, peakRSS(st.Activity.PID()), nil
}

// peakRSS reads a process's peak resident set size, in bytes.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}
