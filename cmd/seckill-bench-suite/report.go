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
	cores   int
	base    []level
	ceiling bench.Stats
	main    bench.Report
	paced   bench.Report
	// traced and untraced are the full-speed sales with tracing at its
	// default sampler and off, run in turn; traced[0] is main.
	traced, untraced []bench.Report
	rss              int64
	big              *bench.Report
	bigRSS           int64
	o                options
}

func (r result) bestBase() level {
	var best level
	for _, l := range r.base {
		if l.tps > best.tps {
			best = l
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
	fmt.Fprintf(&b, "| database baseline, best committed tx/s (at %d connections) | %.0f | | |\n", best.conns, best.tps)
	fmt.Fprintf(&b, "| bare Go handler ceiling, requests/s | %.0f | | |\n", r.ceiling.RPS)
	fmt.Fprintf(&b, "| seckill, requests/s (%d users x 2, stock %d, %d connections) | %.0f | | |\n", r.main.Users, r.main.Stock, r.main.Conns, s.RPS)
	fmt.Fprintf(&b, "| seckill, wins/s | %.0f | | |\n", s.WinsPerSec)
	fmt.Fprintf(&b, "| seckill / database | %.1fx | >= 10x | %s |\n", vsDB, verdict(vsDB >= 10))
	fmt.Fprintf(&b, "| seckill / ceiling | %.0f%% | >= 50%% | %s |\n", 100*vsCeiling, verdict(vsCeiling >= 0.5))
	fmt.Fprintf(&b, "| p99 of won answers, full speed | %s | <= 25ms | %s |\n", ms(s.Won.P99), verdict(s.Won.P99 <= 25*time.Millisecond))
	fmt.Fprintf(&b, "| p99 of other answers, full speed | %s | <= 5ms | %s |\n", ms(s.Other.P99), verdict(s.Other.P99 <= 5*time.Millisecond))
	fmt.Fprintf(&b, "| p99 of the bare handler's answers, full speed (no server does better here) | %s | | |\n", ms(r.ceiling.Other.P99))
	fmt.Fprintf(&b, "| latency of won answers, full speed | %s | | |\n", s.Won)
	fmt.Fprintf(&b, "| latency of other answers, full speed | %s | | |\n", s.Other)
	on, off := medianRPS(r.traced), medianRPS(r.untraced)
	loss := 1 - on/off
	fmt.Fprintf(&b, "| seckill requests/s, tracing on / off, median of %d runs each in turn | %.0f / %.0f | | |\n", len(r.untraced), on, off)
	fmt.Fprintf(&b, "| throughput lost to tracing at the default sampler | %.0f%% | <= 10%% | %s |\n", 100*loss, verdict(loss <= 0.10))
	p := r.paced.Stats
	fmt.Fprintf(&b, "| paced to 10x the database (%.0f requests/s): achieved requests/s | %.0f | | |\n", r.paced.Rate, p.RPS)
	fmt.Fprintf(&b, "| p99 of won answers, paced | %s | <= 25ms | %s |\n", ms(p.Won.P99), verdict(p.Won.P99 <= 25*time.Millisecond))
	fmt.Fprintf(&b, "| p99 of other answers, paced | %s | <= 5ms | %s |\n", ms(p.Other.P99), verdict(p.Other.P99 <= 5*time.Millisecond))
	fmt.Fprintf(&b, "| latency of won answers, paced | %s | | |\n", p.Won)
	fmt.Fprintf(&b, "| latency of other answers, paced | %s | | |\n", p.Other)
	fmt.Fprintf(&b, "| activity service peak RSS | %.0f MB | | |\n", float64(r.rss)/1e6)
	ok := r.allOK()
	fmt.Fprintf(&b, "| verification (wins == stock, pairs, stats, orders), every run | %s | all pass | %s |\n", passFail(ok), verdict(ok))
	if r.big != nil {
		fmt.Fprintf(&b, "| activity peak RSS, %d users, stock %d | %.0f MB | <= 150 MB | %s |\n", r.big.Users, r.big.Stock,
			float64(r.bigRSS)/1e6, verdict(r.bigRSS <= 150_000_000))
		fmt.Fprintf(&b, "| verification of that run | %s | all pass | %s |\n", passFail(r.big.OK), verdict(r.big.OK))
	}
	return b.String()
}

// allOK reports whether every run's verification passed.
func (r result) allOK() bool {
	ok := r.main.OK && r.paced.OK && (r.big == nil || r.big.OK)
	for _, rep := range append(append([]bench.Report{}, r.traced...), r.untraced...) {
		ok = ok && rep.OK
	}
	return ok
}

// medianRPS is the median throughput of runs.
func medianRPS(runs []bench.Report) float64 {
	if len(runs) == 0 {
		return 0
	}
	rps := make([]float64, len(runs))
	for i, r := range runs {
		rps[i] = r.Stats.RPS
	}
	sort.Float64s(rps)
	if n := len(rps); n%2 == 0 {
		return (rps[n/2-1] + rps[n/2]) / 2
	}
	return rps[len(rps)/2]
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
	b.WriteString("The database baseline runs the same transaction the service commits for a win (insert the winner, ")
	b.WriteString("conditionally decrement the stock), one win per transaction, straight at PostgreSQL with fsync on. ")
	b.WriteString("The ceiling is a bare Go handler answering a small JSON body, loaded by the same client. ")
	b.WriteString("Every seckill run is verified: exactly stock winners, each winner's repeat answered already_won with the same ")
	b.WriteString("order id, everyone else sold_out, the activity's stats, and one order per winner in the order service. ")
	b.WriteString("Full speed: each connection sends its next request as soon as its answer is in, so by Little's law the mean ")
	b.WriteString("latency is connections / throughput, whatever the server. Paced: the same sale on a fresh activity process at ")
	b.WriteString("10x the database's best rate; a request sent late because its connection was still waiting counts from when ")
	b.WriteString("it was due. Tracing: the full-speed sale run with JAEGER_DISABLED=true and with the default sampler in turn, three times each; one run differs from the next by up to a tenth here, so the medians are compared.\n\n")
	b.WriteString("Database baseline by connections:\n\n| connections | committed tx/s |\n|---|---|\n")
	for _, l := range r.base {
		fmt.Fprintf(&b, "| %d | %.0f |\n", l.conns, l.tps)
	}
	b.WriteString("\n" + table)
	b.WriteString("\n## Over the sale\n\nEach run's answers in 60 slices of its time, drawn by `make bench` itself: the full-speed sale ")
	b.WriteString("(the stock runs out early, after which every answer comes from memory) and the same sale paced to the goal.\n\n")
	for _, c := range chartFiles() {
		fmt.Fprintf(&b, "![%s](%s/%s)\n\n", c.alt, chartsDir, c.name)
	}
	if r.big == nil {
		b.WriteString("\nThe memory run (1,000,000 users, stock 10,000) is `BENCH_BIG=1 make bench`.\n")
	}
	return b.String()
}

// chartsDir is where the charts go, beside BENCHMARKS.md.
const chartsDir = "docs/bench"

// chartFiles names the charts BENCHMARKS.md shows, in order.
func chartFiles() []struct{ name, alt string } {
	return []struct{ name, alt string }{
		{"full-speed-throughput.svg", "Throughput over the full-speed sale"},
		{"full-speed-latency.svg", "Latency over the full-speed sale"},
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
		files[2].name: latency(fmt.Sprintf("Paced to %.0f requests/s", r.paced.Rate), r.paced),
	}
}
