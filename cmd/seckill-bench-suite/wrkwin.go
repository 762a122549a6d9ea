package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/seckill/seckill/internal/bench"
	"github.com/seckill/seckill/internal/devstack"
)

// wrkWinning is the winning phase under wrk: a fresh stack and activity,
// the command (wrk -t2 -c64 -d10s, every user id POSTed twice in a
// row) against it, and the stock timed through /stats as for our client.
// wrk keeps no answers, so the run is verified by the services' records.
type wrkWinning struct {
	skipped      string // why it did not run, when it did not
	stock        int
	conns        int
	duration     time.Duration
	soldOutAfter time.Duration // from wrk's start; 0 when never seen
	wrk          wrkResult
	checks       []bench.Check
}

// ok reports whether the run sold the stock and its records hold.
func (w wrkWinning) ok() bool {
	if w.skipped != "" {
		return true
	}
	ok := w.soldOutAfter > 0 && w.wrk.Non2xx+w.wrk.SocketErrors == 0
	for _, c := range w.checks {
		ok = ok && c.OK
	}
	return ok
}

// winsPerSec is the stock over the time it took to sell; 0 when the stats
// never said it was gone.
func (w wrkWinning) winsPerSec() float64 {
	if w.soldOutAfter <= 0 {
		return 0
	}
	return float64(w.stock) / w.soldOutAfter.Seconds()
}

// run starts the stack on dbURL, creates the sale and loads it with wrk
// for w.duration while polling its stats every watch.
func (w *wrkWinning) run(ctx context.Context, o options, dbURL, dir string, stdout io.Writer) error {
	bin, script, err := findWrk(dir, o.wrkRuns, &w.skipped, stdout)
	if err != nil || w.skipped != "" {
		return err
	}
	logs := &devstack.LogFiles{Dir: dir}
	defer logs.Close()
	st, err := devstack.Start(ctx, devstack.Config{Bin: o.bin, DatabaseURL: dbURL, Log: logs.Open})
	if err != nil {
		return err
	}
	defer st.Stop()
	client := bench.NewClient(4)
	id, err := bench.CreateSale(ctx, client, st.AdminToken, st.Product.URL, st.Activity.URL, "wrk winning phase", w.stock)
	if err != nil {
		return err
	}
	wctx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	stats := fmt.Sprintf("%s/activities/%d/stats", st.Activity.URL, id)
	start := time.Now()
	sellout := bench.WatchSellout(wctx, client, stats, o.watch)
	if w.wrk, err = runWrk(ctx, bin, script, fmt.Sprintf("%s/activities/%d/seckill", st.Activity.URL, id), w.conns, w.duration); err != nil {
		return err
	}
	if at := bench.AwaitSellout(sellout, stopWatching); !at.IsZero() {
		w.soldOutAfter = at.Sub(start)
	}
	cfg := bench.Config{ActivityURL: st.Activity.URL, OrderURL: st.Order.URL, AdminToken: st.AdminToken, ActivityID: id,
		Stock: w.stock, RelayDeadline: 2 * time.Minute}
	w.checks = bench.VerifyRecords(ctx, client, cfg, nil)
	if w.soldOutAfter > 0 {
		fmt.Fprintf(stdout, "  stock %d gone after %.3fs from wrk's start: %.0f wins/s\n", w.stock, w.soldOutAfter.Seconds(), w.winsPerSec())
	} else {
		fmt.Fprintf(stdout, "  the stats never said the stock was gone within the %s run\n", w.duration)
	}
	fmt.Fprintf(stdout, "  wrk: %.0f requests/s over the run, p99 %s%s\n", w.wrk.RPS, ms(w.wrk.P99), w.wrk.errorsNote())
	for _, c := range w.checks {
		fmt.Fprintf(stdout, "  %s %s: %s\n", passFail(c.OK), c.Name, c.Detail)
	}
	return nil
}
