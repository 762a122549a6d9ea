// Command seckill-bench-suite is `make bench`: in one run on this machine it
// measures the database alone doing the seckill transaction (in Go and with
// pgbench), a bare Go HTTP handler (the ceiling of any HTTP service here),
// and the real stack under seckill-bench, in its sold-out phase and its
// winning phase (each also under wrk when installed), then prints the ratios
// and writes them to BENCHMARKS.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
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
	// The winning phase: its crowd and stock, and how often the stats are
	// polled to see the stock gone.
	winUsers, winStock int
	watch              time.Duration
	// wrk: how long each run lasts and how many runs of each target.
	wrkDuration time.Duration
	wrkRuns     int
	// ha runs make bench-ha instead: the winning phase on the single
	// server and on the HA cluster, haRuns times each, in turn; haDirect
	// adds the variant with one activity instance straight on the leader.
	ha       bool
	haRuns   int
	haDirect bool
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
	fs.IntVar(&o.winUsers, "win-users", 200_000, "users of the winning phase")
	fs.IntVar(&o.winStock, "win-stock", 100_000, "stock of the winning phase")
	fs.DurationVar(&o.watch, "watch", 20*time.Millisecond, "how often the winning phase polls the activity's stats")
	fs.DurationVar(&o.wrkDuration, "wrk-duration", 10*time.Second, "how long each wrk run lasts")
	fs.IntVar(&o.wrkRuns, "wrk-runs", 3, "wrk runs against each target, alternating; 0 skips wrk")
	fs.StringVar(&o.note, "note", getenv("BENCH_NOTE"), "a remark on the machine's conditions, printed under the heading (BENCH_NOTE)")
	fs.BoolVar(&o.ha, "ha", false, "make bench-ha: the winning phase on the single server and on the HA cluster in turn; writes only its section of -out")
	fs.IntVar(&o.haRuns, "ha-runs", 2, "with -ha: runs of each stack, alternating")
	fs.BoolVar(&o.haDirect, "ha-direct", true, "with -ha: also run one activity instance straight on the HA leader, without HAProxy")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if o.ha && o.haRuns < 1 {
		return fmt.Errorf("-ha-runs %d: at least one run of each stack", o.haRuns)
	}
	// Read now, so that a hand-edited section that cannot be kept fails
	// the run before it starts rather than after.
	old, err := readIfExists(o.out)
	if err == nil {
		_, _, _, _, err = markedBlock(old)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", o.out, err)
	}
	tmp, err := os.MkdirTemp("", "seckill-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	fmt.Fprintln(stdout, "== PostgreSQL (fsync and synchronous_commit on, as in production)")
	cluster, stopCluster, err := startPostgres(ctx, tmp)
	if err != nil {
		return err
	}
	defer stopCluster()
	if o.ha {
		return runHA(ctx, o, cluster, old, tmp, stdout)
	}
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
	res := result{cores: runtime.NumCPU(), base: base, o: o}
	if bin, err := findPgbench(); err != nil {
		res.pgbenchSkipped = err.Error()
		fmt.Fprintf(stdout, "  pgbench skipped: %v\n", err)
	} else if res.pgbench, err = pgbenchBaseline(ctx, bin, cluster, "baseline", o.dbDuration, tmp, stdout); err != nil {
		return err
	}
	best := res.bestBase()
	fmt.Fprintf(stdout, "  best: %.0f transactions/s (%s)\n", best.tps, best.source)

	fmt.Fprintln(stdout, "== 2. ceiling: a bare Go handler answering a small JSON body, same client")
	bareURL, stopBare, err := startBareHandler()
	if err != nil {
		return err
	}
	defer stopBare()
	if res.ceiling, err = ceiling(ctx, o, bareURL); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  %.0f requests/s\n", res.ceiling.RPS)

	fmt.Fprintln(stdout, "== 3. the sold-out phase: the real stack under seckill-bench (default configuration)")
	res.wrk = wrkComparison{runs: o.wrkRuns, duration: o.wrkDuration, conns: o.conns}
	// wrk loads the main run's activity once it sold out, with the stack
	// still up, and the bare handler in turn.
	afterMain := func(st *devstack.Stack, r bench.Report) error {
		return res.wrk.run(ctx, fmt.Sprintf("%s/activities/%d/seckill", st.Activity.URL, r.ActivityID), bareURL, tmp, stdout)
	}
	main, rss, err := stackRun(ctx, o, dbURL, tmp, sale{users: o.users, stock: o.stock}, afterMain)
	if err != nil {
		return err
	}
	main.Print(stdout)
	res.main, res.rss = main, rss
	if w := res.wrk; w.skipped == "" {
		s, b := median(w.seckill), median(w.bare)
		fmt.Fprintf(stdout, "  wrk, median of %d: seckill %.0f requests/s p99 %s%s, bare handler %.0f requests/s p99 %s%s\n",
			w.runs, s.RPS, ms(s.P99), s.errorsNote(), b.RPS, ms(b.P99), b.errorsNote())
	}

	// One run against another differs by up to a tenth here, as much as
	// the cost being measured: tracing's cost is the ratio of medians over
	// alternating runs with tracing off and on, the main run the first of
	// the traced ones.
	fmt.Fprintf(stdout, "== 4. the full-speed sale, tracing off and on in turn (%d runs each), for what tracing costs\n", tracingRuns)
	res.traced = []bench.Report{main}
	for i := range tracingRuns {
		off, _, err := stackRun(ctx, o, dbURL, tmp, sale{users: o.users, stock: o.stock, env: []string{"JAEGER_DISABLED=true"}}, nil)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  tracing off: %.0f requests/s\n", off.Stats.RPS)
		res.untraced = append(res.untraced, off)
		if i == tracingRuns-1 {
			break
		}
		on, _, err := stackRun(ctx, o, dbURL, tmp, sale{users: o.users, stock: o.stock}, nil)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  tracing on:  %.0f requests/s\n", on.Stats.RPS)
		res.traced = append(res.traced, on)
	}

	fmt.Fprintf(stdout, "== 5. the winning phase: stock %d, %d users x 2, %d connections, timed through /stats every %s\n",
		o.winStock, o.winUsers, o.conns, o.watch)
	win, _, err := stackRun(ctx, o, dbURL, tmp, winningSale(o), nil)
	if err != nil {
		return err
	}
	win.Print(stdout)
	res.win = win

	fmt.Fprintf(stdout, "== 5b. the winning phase under wrk: stock %d, wrk -t%d -c%d -d%s with the issue's script, timed through /stats every %s\n",
		o.winStock, wrkThreads, o.conns, o.wrkDuration, o.watch)
	res.wrkWin = wrkWinning{stock: o.winStock, conns: o.conns, duration: o.wrkDuration}
	if err := res.wrkWin.run(ctx, o, dbURL, tmp, stdout); err != nil {
		return err
	}

	// At full speed every request waits behind the other connections' (by
	// Little's law the mean latency is connections / throughput), so the
	// latency a buyer sees is measured again at half the measured peak,
	// from the first request of the sale, wins included.
	half := main.Stats.RPS / 2
	fmt.Fprintf(stdout, "== 6. the same sale paced to half the full-speed rate: %.0f requests/s\n", half)
	paced, _, err := stackRun(ctx, o, dbURL, tmp, sale{users: o.users, stock: o.stock, rate: half}, nil)
	if err != nil {
		return err
	}
	paced.Print(stdout)
	res.paced = paced

	fmt.Fprintln(stdout, "== 7. the sold-out path in process, layer by layer: go test -bench BenchmarkSoldOutPath")
	if res.path, err = soldOutPath(ctx); err != nil {
		res.pathSkipped = err.Error()
		fmt.Fprintln(stdout, "  skipped:", err)
	} else {
		fmt.Fprint(stdout, pathTable(res.path))
	}

	if o.big {
		fmt.Fprintf(stdout, "== 8. memory: %d users, stock %d, on a fresh activity process\n", o.bigUsers, o.bigStock)
		big, bigRSS, err := stackRun(ctx, o, dbURL, tmp, sale{users: o.bigUsers, stock: o.bigStock}, nil)
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
	doc, err := keepMarked(res.markdown(table), old)
	if err != nil {
		return err
	}
	if err := os.WriteFile(o.out, []byte(doc), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwritten to %s\n", o.out)
	if !res.allOK() {
		return fmt.Errorf("verification failed")
	}
	return nil
}

// startPostgres starts the PostgreSQL server make bench measures the
// stack on, and returns it with the function that stops it.
func startPostgres(ctx context.Context, tmp string) (*pgserver.Cluster, func(), error) {
	cluster, err := pgserver.New(ctx, filepath.Join(tmp, "pg"), 0, "max_connections=300", "shared_buffers=256MB")
	if err != nil {
		return nil, nil, err
	}
	if err := cluster.Start(ctx); err != nil {
		return nil, nil, err
	}
	return cluster, func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = cluster.Stop(sctx)
	}, nil
}

// startBareHandler serves a minimal handler answering a small JSON body on
// a loopback port: the ceiling of any HTTP service on this machine.
func startBareHandler() (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	body := []byte(`{"code":0,"message":"ok","data":{"won":false,"status":"sold_out"}}` + "\n")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(body)
	})}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/", func() { _ = srv.Close() }, nil
}

// ceiling loads the bare handler at url with the same client and user
// pattern as the stack.
func ceiling(ctx context.Context, o options, url string) (bench.Stats, error) {
	var st bench.Stats
	err := runBench(ctx, o, &st, nil, "-drive-only", url, "-users", strconv.Itoa(o.users),
		"-conns", strconv.Itoa(o.conns), "-progress=false")
	return st, err
}

// run loads the sold-out seckill endpoint at seckillURL and the bare
// handler at bareURL with wrk and the script, alternating, w.runs
// times each; without wrk on PATH it records why and does nothing.
func (w *wrkComparison) run(ctx context.Context, seckillURL, bareURL, dir string, stdout io.Writer) error {
	bin, script, err := findWrk(dir, w.runs, &w.skipped, stdout)
	if err != nil || w.skipped != "" {
		return err
	}
	for i := range w.runs {
		s, err := runWrk(ctx, bin, script, seckillURL, w.conns, w.duration)
		if err != nil {
			return err
		}
		b, err := runWrk(ctx, bin, script, bareURL, w.conns, w.duration)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  wrk %d/%d: seckill %.0f requests/s p99 %s%s; bare handler %.0f requests/s p99 %s%s\n",
			i+1, w.runs, s.RPS, ms(s.P99), s.errorsNote(), b.RPS, ms(b.P99), b.errorsNote())
		w.seckill, w.bare = append(w.seckill, s), append(w.bare, b)
	}
	return nil
}
