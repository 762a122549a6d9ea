package main

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/seckill/seckill/internal/bench"
)

type result struct {
	cores int
	// base is the Go baseline's levels, pgbench pgbench's (none when
	// pgbenchSkipped says why).
	base, pgbench  []level
	pgbenchSkipped string
	ceiling        bench.Stats
	// main is the sold-out phase (stock 1,000), wrk the same sold-out
	// activity and the bare handler under wrk, win the winning phase
	// (stock 100,000), paced the main sale at half main's rate.
	main bench.Report
	wrk  wrkComparison
	win  bench.Report
	// wrkWin is the winning phase again, loaded by wrk.
	wrkWin wrkWinning
	paced  bench.Report
	// traced and untraced are the full-speed sales with tracing at its
	// default sampler and off, run in turn; traced[0] is main.
	traced, untraced []bench.Report
	rss              int64
	// path is BenchmarkSoldOutPath's variants, or pathSkipped says why
	// there are none.
	path        []pathLayer
	pathSkipped string
	big         *bench.Report
	bigRSS      int64
	o           options
}

// bestLevel is the best database baseline and where it was measured.
type bestLevel struct {
	level
	source string // "pgbench, 4 clients" or "Go, 4 connections"
}

// bestBase is the best of the Go and pgbench baselines: every ratio to the
// database is to it.
func (r result) bestBase() bestLevel {
	var best bestLevel
	for _, l := range r.base {
		if l.tps > best.tps {
			best = bestLevel{l, fmt.Sprintf("Go, %d connections", l.conns)}
		}
	}
	for _, l := range r.pgbench {
		if l.tps > best.tps {
			best = bestLevel{l, fmt.Sprintf("pgbench, %d clients", l.conns)}
		}
	}
	return best
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func (r result) table() string {
	var b strings.Builder
	best := r.bestBase()
	s := r.main.Stats
	vsDB := s.RPS / best.tps
	vsCeiling := s.RPS / r.ceiling.RPS
	fmt.Fprintf(&b, "| measure | value | target | |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| database baseline, best single-win transactions/s (%s) | %.0f | | |\n", best.source, best.tps)
	fmt.Fprintf(&b, "| bare Go handler ceiling, requests/s | %.0f | | |\n", r.ceiling.RPS)
	fmt.Fprintf(&b, "| **sold-out phase**: seckill, requests/s (%d users x 2, stock %d, %d connections) | %.0f | | |\n", r.main.Users, r.main.Stock, r.main.Conns, s.RPS)
	fmt.Fprintf(&b, "| seckill, wins/s | %.0f | | |\n", s.WinsPerSec)
	fmt.Fprintf(&b, "| seckill / database | %.1fx | >= 12x | %s |\n", vsDB, verdict(vsDB >= 12))
	fmt.Fprintf(&b, "| seckill / bare handler | %.0f%% | >= 65%% | %s |\n", 100*vsCeiling, verdict(vsCeiling >= 0.65))
	fmt.Fprintf(&b, "| p99 of won answers, full speed | %s | <= 25ms | %s |\n", ms(s.Won.P99), verdict(s.Won.P99 <= 25*time.Millisecond))
	fmt.Fprintf(&b, "| p99 of other answers, full speed | %s | <= 5ms | %s |\n", ms(s.Other.P99), verdict(s.Other.P99 <= 5*time.Millisecond))
	fmt.Fprintf(&b, "| p99 of the bare handler's answers, full speed (no server does better here) | %s | | |\n", ms(r.ceiling.Other.P99))
	fmt.Fprintf(&b, "| latency of won answers, full speed | %s | | |\n", s.Won)
	fmt.Fprintf(&b, "| latency of other answers, full speed | %s | | |\n", s.Other)
	if w := r.wrk; w.skipped != "" {
		fmt.Fprintf(&b, "| wrk on the sold-out activity and the bare handler | skipped: %s | | |\n", w.skipped)
	} else {
		ws, wb := median(w.seckill), median(w.bare)
		head := fmt.Sprintf("wrk -t%d -c%d -d%s, median of %d alternating runs", wrkThreads, w.conns, w.duration, len(w.seckill))
		fmt.Fprintf(&b, "| %s: seckill (sold out) requests/s, p99 | %.0f, %s%s | | |\n", head, ws.RPS, ms(ws.P99), ws.errorsNote())
		fmt.Fprintf(&b, "| %s: bare handler requests/s, p99 | %.0f, %s%s | | |\n", head, wb.RPS, ms(wb.P99), wb.errorsNote())
		ratio, vsDB := ws.RPS/wb.RPS, ws.RPS/best.tps
		fmt.Fprintf(&b, "| wrk: seckill / bare handler | %.0f%% | >= 65%% | %s |\n", 100*ratio, verdict(ratio >= 0.65))
		fmt.Fprintf(&b, "| wrk: seckill / database | %.1fx | >= 12x | %s |\n", vsDB, verdict(vsDB >= 12))
		if ws.Non2xx+ws.SocketErrors > 0 {
			fmt.Fprintf(&b, "| wrk: seckill answers that were not 2xx, or failed | %d | 0 | NOT met |\n", ws.Non2xx+ws.SocketErrors)
		}
	}
	on, off := medianRPS(r.traced), medianRPS(r.untraced)
	loss := 1 - on/off
	fmt.Fprintf(&b, "| seckill requests/s, tracing on / off, median of %d runs each in turn | %.0f / %.0f | | |\n", len(r.untraced), on, off)
	fmt.Fprintf(&b, "| throughput lost to tracing at the default sampler | %.0f%% | <= 10%% | %s |\n", 100*loss, verdict(loss <= 0.10))
	w := r.win
	winRate := w.SelloutWinsPerSec()
	fmt.Fprintf(&b, "| **winning phase**: stock %d gone after, from the first request, seen through /stats (%d users x 2, %d connections, fresh activity) | %.2fs | | |\n",
		w.Stock, w.Users, w.Conns, w.SoldOutAfter.Seconds())
	fmt.Fprintf(&b, "| winning phase, wins/s (stock / that time) | %.0f | | |\n", winRate)
	fmt.Fprintf(&b, "| winning phase / database | %.1fx | >= 3x | %s |\n", winRate/best.tps, verdict(winRate >= 3*best.tps))
	fmt.Fprintf(&b, "| latency of won answers, winning phase | %s | | |\n", w.Stats.Won)
	if ww := r.wrkWin; ww.skipped != "" {
		fmt.Fprintf(&b, "| winning phase under wrk | skipped: %s | | |\n", ww.skipped)
	} else {
		fmt.Fprintf(&b, "| **winning phase under wrk** -t%d -c%d -d%s (every user id twice in a row): stock %d gone after, from wrk's start, seen through /stats | %s | | |\n",
			wrkThreads, ww.conns, ww.duration, ww.stock, soldOutText(ww.soldOutAfter))
		fmt.Fprintf(&b, "| winning phase under wrk, wins/s | %.0f | | |\n", ww.winsPerSec())
		fmt.Fprintf(&b, "| winning phase under wrk / database | %.1fx | >= 3x | %s |\n", ww.winsPerSec()/best.tps, verdict(ww.winsPerSec() >= 3*best.tps))
		fmt.Fprintf(&b, "| winning phase under wrk: requests/s over the run, p99 | %.0f, %s%s | | |\n", ww.wrk.RPS, ms(ww.wrk.P99), ww.wrk.errorsNote())
	}
	p := r.paced.Stats
	fmt.Fprintf(&b, "| **paced** to half the full-speed rate (%.0f requests/s): achieved requests/s | %.0f | | |\n", r.paced.Rate, p.RPS)
	fmt.Fprintf(&b, "| p99 of all answers, paced, from the start of the sale | %s | | |\n", ms(p.All.P99))
	fmt.Fprintf(&b, "| p99 of won answers, paced | %s | <= 25ms | %s |\n", ms(p.Won.P99), verdict(p.Won.P99 <= 25*time.Millisecond))
	fmt.Fprintf(&b, "| p99 of other answers, paced | %s | <= 5ms | %s |\n", ms(p.Other.P99), verdict(p.Other.P99 <= 5*time.Millisecond))
	fmt.Fprintf(&b, "| latency of all answers, paced | %s | | |\n", p.All)
	fmt.Fprintf(&b, "| latency of won answers, paced | %s | | |\n", p.Won)
	fmt.Fprintf(&b, "| latency of other answers, paced | %s | | |\n", p.Other)
	fmt.Fprintf(&b, "| activity service peak RSS, sold-out phase | %.0f MB | | |\n", float64(r.rss)/1e6)
	ok := r.allOK()
	fmt.Fprintf(&b, "| verification (wins == stock, pairs, stats, orders; under wrk stats, orders, no error), every run | %s | all pass | %s |\n", passFail(ok), verdict(ok))
	if r.big != nil {
		fmt.Fprintf(&b, "| activity peak RSS, %d users, stock %d | %.0f MB | <= 150 MB | %s |\n", r.big.Users, r.big.Stock,
			float64(r.bigRSS)/1e6, verdict(r.bigRSS <= 150_000_000))
		fmt.Fprintf(&b, "| verification of that run | %s | all pass | %s |\n", passFail(r.big.OK), verdict(r.big.OK))
	}
	return b.String()
}

// allOK reports whether every run's verification passed.
func (r result) allOK() bool {
	ok := r.main.OK && r.win.OK && r.wrkWin.ok() && r.paced.OK && (r.big == nil || r.big.OK)
	for _, rep := range append(append([]bench.Report{}, r.traced...), r.untraced...) {
		ok = ok && rep.OK
	}
	return ok
}

// medianRPS is the median throughput of runs.
func medianRPS(runs []bench.Report) float64 {
	rps := make([]float64, len(runs))
	for i, r := range runs {
		rps[i] = r.Stats.RPS
	}
	return medianFloat(rps)
}

// medianFloat is the median of xs (the mean of the middle two when even),
// 0 when there are none.
func medianFloat(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = append([]float64(nil), xs...)
	sort.Float64s(xs)
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}

// soldOutText is a sell-out time, or says it was never seen.
func soldOutText(d time.Duration) string {
	if d <= 0 {
		return "not sold out in the run"
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func (r result) markdown(table string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks\n\nMeasured by `make bench` on %s: %d cores, %s, %s/%s. Client and servers share the machine.\n\n",
		time.Now().UTC().Format("2006-01-02"), r.cores, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if r.o.note != "" {
		b.WriteString(r.o.note + "\n\n")
	}
	b.WriteString("**How to read.** Three baselines, each measured in this run: the *database* is the best single-win rate of the ")
	b.WriteString("seckill transaction (insert the winner, conditionally decrement the stock, one win per transaction, fsync on) ")
	b.WriteString("straight at PostgreSQL, from Go and from pgbench at several connection counts, whichever is higher; the *bare ")
	b.WriteString("handler* is a Go net/http handler answering a small JSON body, the ceiling of any HTTP server on this machine, loaded ")
	b.WriteString("by the same client as the stack; *wrk* loads the sold-out seckill endpoint and the bare handler with ")
	b.WriteString("`cmd/seckill-bench-suite/wrk/seckill.lua` (every user id POSTed twice), a client that is not ours. ")
	fmt.Fprintf(&b, "The sold-out phase (stock %d, nearly every answer from memory) is compared with the bare handler and the database; ", r.main.Stock)
	fmt.Fprintf(&b, "the winning phase (stock %d) with the database, timed from the first request until GET /activities/{id}/stats says ", r.win.Stock)
	fmt.Fprintf(&b, "no unit remains (polled every %s from the client, so late by at most a poll), once with our client and once with wrk ", r.o.watch)
	b.WriteString("and the same script on a fresh stack, timed from wrk's start. wrk sends a user's two requests back to back on two ")
	b.WriteString("connections, so both are in flight together and at most half the connections carry a claim; our client sends ")
	b.WriteString("a user's second request after the first's answer, as a buyer does.\n\n")
	b.WriteString("Every seckill run is verified: exactly stock winners, each winner's repeat answered already_won with the same ")
	b.WriteString("order id, everyone else sold_out, the activity's stats, and one order per winner in the order service. ")
	b.WriteString("Full speed: each connection sends its next request as soon as its answer is in, so by Little's law the mean ")
	b.WriteString("latency is connections / throughput, whatever the server. Paced: the same sale on a fresh activity process at ")
	b.WriteString("half the full-speed run's requests/s, every answer from the sale's first request on; a request sent late because ")
	b.WriteString("its connection was still waiting counts from when it was due. Tracing: the full-speed sale run with JAEGER_DISABLED=true and with the default sampler in turn, three times each; one run differs from the next by up to a tenth here, so the medians are compared.\n\n")
	b.WriteString("Database baseline by connections (pgbench: `-n -M prepared -j 2`, the same transaction as a custom script):\n\n")
	b.WriteString("| connections | Go, committed tx/s | pgbench, tps |\n|---|---|---|\n")
	tps := func(ls []level, n int) string {
		for _, l := range ls {
			if l.conns == n {
				return fmt.Sprintf("%.0f", l.tps)
			}
		}
		return ""
	}
	for _, n := range baselineConns(r.base, r.pgbench) {
		fmt.Fprintf(&b, "| %d | %s | %s |\n", n, tps(r.base, n), tps(r.pgbench, n))
	}
	if r.pgbenchSkipped != "" {
		fmt.Fprintf(&b, "\npgbench did not run: %s.\n", r.pgbenchSkipped)
	}
	b.WriteString("\n" + table)
	b.WriteString("\n## The sold-out path, in process\n\n`BenchmarkSoldOutPath` (internal/activity) serves one sold-out purchase ")
	b.WriteString("request over and over without a network or a client: the same request value, a writer that discards, so ")
	b.WriteString("B/op and allocs/op are the service's own per request. Each variant adds a layer of the service to the one ")
	b.WriteString("before; the rest of a request's cost under load (reading and writing the connection, net/http, the kernel) is ")
	b.WriteString("the same for the bare handler and is what the wrk and bare-handler rows above include.\n\n")
	if r.pathSkipped != "" {
		fmt.Fprintf(&b, "Not measured in this run: %s.\n", r.pathSkipped)
	} else {
		b.WriteString(pathTable(r.path))
	}
	b.WriteString(designNotes)
	b.WriteString("\n## Over the sale\n\nEach run's answers in 60 slices of its time, drawn by `make bench` itself: the full-speed sale ")
	b.WriteString("(the stock runs out early, after which every answer comes from memory), the winning phase, and the sale paced to half the full-speed rate.\n\n")
	for _, c := range chartFiles() {
		fmt.Fprintf(&b, "![%s](%s/%s)\n\n", c.alt, chartsDir, c.name)
	}
	if r.big == nil {
		b.WriteString("\nThe memory run (1,000,000 users, stock 10,000) is `BENCH_BIG=1 make bench`.\n")
	}
	return b.String()
}

// designNotes says which designs the figures above come from, and why.
const designNotes = `
## What the figures come from

- **Sold-out path.** Once the database says the stock is gone, the gate publishes an immutable map of every
  winner; each later request is answered from it without a lock or a database round trip, and still per user
  (already_won with the order id, forfeited, sold_out) in the JSON envelope, from a pooled buffer.
- **Per-request costs of the default configuration.** One request context carries the request id, chi's routing
  context (pooled, so the router does not copy the request) and a deadline whose timer starts only if something
  waits on it; the connection cap's bookkeeping is an atomic store when a request starts and one short critical
  section when it ends; an unsampled trace (999 in 1000 at the default sampler) gets no
  Jaeger span unless it asks for its context; the access log is formatted by hand into a buffer a goroutine writes
  out; metrics and the access log share one clock reading; the services run with GOGC=400 and a 256 MiB soft memory
  limit unless GOGC or GOMEMLIMIT is set (their live heap is a few MB, so Go's default collected a dozen times a
  second at full load). Kept on purpose: the server's read, write and idle timeouts (a deadline update per request)
  and the request id echoed in every answer.
- **Winning path.** A group commit is one statement, activity.commit_claims: the row lock is held only while
  PostgreSQL works and flushes, never across a round trip, and the statement is planned once per connection (left
  to choose, PostgreSQL planned it afresh for each small batch: 449 us instead of 174 us for one claim,
  BenchmarkCommit). The stock stays one row. Spreading it over lanes (four rows per activity, a commit per lane,
  units moved from the activity in shares and taken from idle lanes, so that commits run side by side and share
  their flushes) was built and measured under wrk: 7.0-7.7 s with two lanes and 8.9-9.2 s with four, against
  6.3-6.9 s on one row, in alternating runs. Every commit has a fixed cost (about 0.11 ms of PostgreSQL CPU, a
  flush, the wake-ups), and on two cores shared with the client, more and smaller commits cost more than the
  waiting they save. Two commits in flight on the one row (the winners written before its lock) were slower too:
  batches halve and each still waits for the other's flush.
  The winners' foreign key to the activity costs about 11 us a row inside that lock; replacing it with a
  statement-level trigger cut commit_claims' PostgreSQL time by about a fifth but did not move the winning phase
  in alternating runs, so the foreign key stays.
  Under wrk, a user's two requests are in flight together (the script sends them back to back), so at most 32 of
  the 64 connections carry a claim and the winning phase is a closed loop: wins/s = 32 / the latency of one win.
  Our client sends the second request after the first's answer, so all 64 do.
  While wins are being committed the relay of orders delivers one batch a second and catches up once the rush ends.
`

// chartsDir is where the charts go, beside BENCHMARKS.md.
const chartsDir = "docs/bench"

// chartFiles names the charts BENCHMARKS.md shows, in order.
func chartFiles() []struct{ name, alt string } {
	return []struct{ name, alt string }{
		{"full-speed-throughput.svg", "Throughput over the full-speed sale"},
		{"full-speed-latency.svg", "Latency over the full-speed sale"},
		{"winning-phase-throughput.svg", "Throughput over the winning phase"},
		{"paced-latency.svg", "Latency over the paced sale"},
	}
}

// charts draws throughput and latency over the main and the paced sale.
func (r result) charts() map[string][]byte {
	throughput := func(title string, rep bench.Report) []byte {
		var x, rps, wins []float64
		for _, p := range rep.Timeline {
			x, rps, wins = append(x, p.At.Seconds()), append(rps, p.RPS), append(wins, p.WinsPerSec)
		}
		return bench.Chart{Title: title, XLabel: "seconds into the sale", YLabel: "answers per second", Series: []bench.Series{
			{Name: "all answers/s", Color: "#1f77b4", X: x, Y: rps}, {Name: "wins/s", Color: "#d62728", X: x, Y: wins}}}.SVG()
	}
	latency := func(title string, rep bench.Report) []byte {
		var x, p50, p99 []float64
		for _, p := range rep.Timeline {
			x = append(x, p.At.Seconds())
			p50, p99 = append(p50, float64(p.P50)/float64(time.Millisecond)), append(p99, float64(p.P99)/float64(time.Millisecond))
		}
		return bench.Chart{Title: title, XLabel: "seconds into the sale", YLabel: "latency (ms)", Series: []bench.Series{
			{Name: "p50", Color: "#2ca02c", X: x, Y: p50}, {Name: "p99", Color: "#ff7f0e", X: x, Y: p99}}}.SVG()
	}
	files := chartFiles()
	full := fmt.Sprintf("%d users x 2, stock %d, %d connections", r.main.Users, r.main.Stock, r.main.Conns)
	return map[string][]byte{
		files[0].name: throughput("Full speed: "+full, r.main),
		files[1].name: latency("Full speed: "+full, r.main),
		files[2].name: throughput(fmt.Sprintf("Winning phase: %d users x 2, stock %d, %d connections", r.win.Users, r.win.Stock, r.win.Conns), r.win),
		files[3].name: latency(fmt.Sprintf("Paced to %.0f requests/s", r.paced.Rate), r.paced),
	}
}

// baselineConns is every connection count either baseline ran at, in order.
func baselineConns(sets ...[]level) []int {
	seen := map[int]bool{}
	var out []int
	for _, ls := range sets {
		for _, l := range ls {
			if !seen[l.conns] {
				seen[l.conns] = true
				out = append(out, l.conns)
			}
		}
	}
	sort.Ints(out)
	return out
}
