package main

import (
	"strings"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/bench"
)

// TestTable_SaysEveryVerdict: the table states each of issue 15's targets
// with its verdict, a miss as NOT met, and says why wrk did not run.
func TestTable_SaysEveryVerdict(t *testing.T) {
	run := func(rps float64) bench.Report {
		return bench.Report{Users: 100_000, Stock: 1_000, Conns: 64, OK: true, Stats: bench.Stats{RPS: rps}}
	}
	r := result{
		base:    []level{{1, 2000}, {2, 3000}},
		pgbench: []level{{1, 3500}, {2, 4000}},
		ceiling: bench.Stats{RPS: 100_000},
		main:    run(50_000), // 50% of the ceiling, 12.5x the database
		win: bench.Report{Users: 200_000, Stock: 100_000, Conns: 64, OK: true,
			SoldOutAfter: 10 * time.Second}, // 10,000 wins/s: 2.5x the database
		paced:    run(25_000),
		traced:   []bench.Report{run(50_000)},
		untraced: []bench.Report{run(52_000)},
		wrk:      wrkComparison{skipped: "wrk is not on PATH"},
		wrkWin:   wrkWinning{skipped: "wrk is not on PATH"},
	}
	r.paced.Rate = 25_000
	table := r.table()
	hasRows(t, table,
		"| database baseline, best single-win transactions/s (pgbench, 2 clients) | 4000 |",
		"| seckill / database | 12.5x | >= 12x | met |",
		"| seckill / bare handler | 50% | >= 65% | NOT met |",
		"| winning phase, wins/s (stock / that time) | 10000 |",
		"| winning phase / database | 2.5x | >= 3x | NOT met |",
		"| wrk on the sold-out activity and the bare handler | skipped: wrk is not on PATH |",
		"| **paced** to half the full-speed rate (25000 requests/s)",
		"| p99 of all answers, paced, from the start of the sale |",
		"| winning phase under wrk | skipped: wrk is not on PATH |",
		"| verification (wins == stock, pairs, stats, orders; under wrk stats, orders, no error), every run | PASS | all pass | met |",
	)

	r.wrk = wrkComparison{runs: 1, duration: 10 * time.Second, conns: 64,
		seckill: []wrkResult{{RPS: 60_000, P99: 14 * time.Millisecond, Non2xx: 3}}, bare: []wrkResult{{RPS: 80_000, P99: 7 * time.Millisecond}}}
	r.wrkWin = wrkWinning{stock: 100_000, conns: 64, duration: 10 * time.Second, soldOutAfter: 8 * time.Second, // 12,500 wins/s
		wrk: wrkResult{RPS: 40_000, P99: 9 * time.Millisecond}, checks: []bench.Check{{Name: "relay drained", OK: true}}}
	table = r.table()
	hasRows(t, table,
		"| **winning phase under wrk** -t2 -c64 -d10s (every user id twice in a row): stock 100000 gone after, from wrk's start, seen through /stats | 8.00s |",
		"| winning phase under wrk, wins/s | 12500 |",
		"| winning phase under wrk / database | 3.1x | >= 3x | met |",
		"| verification (wins == stock, pairs, stats, orders; under wrk stats, orders, no error), every run | PASS | all pass | met |",
	)
	// A wrk run whose stock never sold out, or whose records fail, fails
	// the verification.
	for _, broken := range []wrkWinning{
		{stock: 100_000, conns: 64, duration: 10 * time.Second},
		{stock: 100_000, conns: 64, duration: 10 * time.Second, soldOutAfter: time.Second, checks: []bench.Check{{Name: "relay drained"}}},
		{stock: 100_000, conns: 64, duration: 10 * time.Second, soldOutAfter: time.Second, wrk: wrkResult{SocketErrors: 1}},
	} {
		if broken.ok() {
			t.Errorf("%+v passes its verification", broken)
		}
	}

	r.win.OK = false
	table = r.table()
	hasRows(t, table,
		"| wrk -t2 -c64 -d10s, median of 1 alternating runs: seckill (sold out) requests/s, p99 | 60000, 14.00ms (3 non-2xx) |",
		"| wrk: seckill / bare handler | 75% | >= 65% | met |",
		"| wrk: seckill / database | 15.0x | >= 12x | met |",
		"| wrk: seckill answers that were not 2xx, or failed | 3 | 0 | NOT met |",
		"| verification (wins == stock, pairs, stats, orders; under wrk stats, orders, no error), every run | FAIL | all pass | NOT met |",
	)
}

// hasRows fails t for each of rows the table lacks.
func hasRows(t *testing.T, table string, rows ...string) {
	t.Helper()
	for _, want := range rows {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q:\n%s", want, table)
		}
	}
}
