package main

import (
	"strings"
	"testing"
	"time"
)

// pgbench15 is pgbench 15's output of a clean run of the seckill script,
// in the shape captured on this machine.
const pgbench15 = `pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: /tmp/seckill-bench-1/seckill.pgbench.sql
scaling factor: 1
query mode: prepared
number of clients: 2
number of threads: 2
maximum number of tries: 1
duration: 3 s
number of transactions actually processed: 11838
number of failed transactions: 0 (0.000%)
latency average = 0.507 ms
initial connection time = 5.535 ms
tps = 3946.185930 (without initial connection time)
`

// pgbench13 is the shape of pgbench 13's output: two tps lines, the one
// including the connections first.
const pgbench13 = `transaction type: seckill.pgbench.sql
scaling factor: 1
query mode: prepared
number of clients: 4
number of threads: 2
duration: 3 s
number of transactions actually processed: 9531
latency average = 1.259 ms
tps = 3170.120000 (including connections establishing)
tps = 3176.849960 (excluding connections establishing)
`

// pgbenchAbortedRun is pgbench 15's output when a client hit an error: the
// run's rate is not the transaction's.
const pgbenchAbortedRun = `pgbench (15.18 (Debian 15.18-0+deb12u1))
pgbench: error: client 0 script 0 aborted in command 3 query 0: ERROR:  duplicate key value violates unique constraint "winners_pkey"
DETAIL:  Key (activity_id, user_id)=(1, 1) already exists.
transaction type: /tmp/seckill-bench-1/seckill.pgbench.sql
scaling factor: 1
query mode: simple
number of clients: 2
number of threads: 2
maximum number of tries: 1
duration: 1 s
number of transactions actually processed: 1
number of failed transactions: 0 (0.000%)
latency average = 23.586 ms
initial connection time = 4.385 ms
tps = 84.796065 (without initial connection time)
pgbench: error: Run was aborted; the above results are incomplete.
`

func TestParsePgbenchTPS(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  string
		want float64
		err  string
	}{
		{"PostgreSQL15", pgbench15, 3946.185930, ""},
		{"PostgreSQL13TakesTheRateWithoutConnecting", pgbench13, 3176.849960, ""},
		{"FailedTransactions", strings.Replace(pgbench15, "failed transactions: 0 (0.000%)", "failed transactions: 12 (0.101%)", 1), 0, "12 failed transactions"},
		{"AbortedRun", pgbenchAbortedRun, 0, "aborted"},
		{"NoResult", "pgbench: error: connection to server at \"127.0.0.1\", port 5432 failed: Connection refused\n", 0, "no tps line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePgbenchTPS(tc.out)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("tps %v, want %v", got, tc.want)
			}
		})
	}
}

// wrkClean is wrk 4's --latency output of a run against the sold-out
// seckill endpoint, in the shape captured on this machine.
const wrkClean = `Running 10s test @ http://127.0.0.1:8504/activities/1/seckill
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.62ms    2.81ms  41.07ms   91.44%
    Req/Sec    17.97k     1.53k   21.30k    69.00%
  Latency Distribution
     50%  787.00us
     75%    1.47ms
     90%    3.52ms
     99%   15.75ms
  358412 requests in 10.00s, 74.84MB read
Requests/sec:  35840.51
Transfer/sec:      7.48MB
`

// wrkErrors is wrk's output when answers were not 2xx and connections
// failed, with a p99 in microseconds.
const wrkErrors = `Running 2s test @ http://127.0.0.1:18777/x
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   818.05us  277.34us   2.35ms   69.51%
    Req/Sec     1.15k   140.91     1.49k    65.00%
  Latency Distribution
     50%  786.00us
     75%    0.99ms
     90%    1.19ms
     99%  961.00us
  2300 requests in 1.00s, 1.22MB read
  Socket errors: connect 0, read 3, write 1, timeout 2
  Non-2xx or 3xx responses: 2300
Requests/sec:   2299.02
Transfer/sec:      1.22MB
`

func TestParseWrk(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  string
		want wrkResult
	}{
		{"Clean", wrkClean, wrkResult{RPS: 35840.51, P99: 15750 * time.Microsecond, Requests: 358412}},
		{"ErrorsAndMicroseconds", wrkErrors, wrkResult{RPS: 2299.02, P99: 961 * time.Microsecond, Requests: 2300, Non2xx: 2300, SocketErrors: 6}},
		{"SecondsP99", strings.Replace(wrkClean, "99%   15.75ms", "99%    1.20s", 1), wrkResult{RPS: 35840.51, P99: 1200 * time.Millisecond, Requests: 358412}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseWrk(tc.out)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	t.Run("WithoutLatencyIsAnError", func(t *testing.T) {
		out := strings.Replace(wrkClean, "     99%   15.75ms\n", "", 1)
		if _, err := parseWrk(out); err == nil || !strings.Contains(err.Error(), "99%") {
			t.Errorf("error %v, want one about the missing 99%% line", err)
		}
	})
	t.Run("NoOutputIsAnError", func(t *testing.T) {
		if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
			t.Error("no error for wrk output without a result")
		}
	})
}

func TestMedian_OfAlternatingRuns(t *testing.T) {
	runs := []wrkResult{
		{RPS: 30000, P99: 20 * time.Millisecond, Requests: 10, Non2xx: 1},
		{RPS: 50000, P99: 5 * time.Millisecond, Requests: 20},
		{RPS: 40000, P99: 9 * time.Millisecond, Requests: 30, SocketErrors: 2},
	}
	got := median(runs)
	if want := (wrkResult{RPS: 40000, P99: 9 * time.Millisecond, Requests: 60, Non2xx: 1, SocketErrors: 2}); got != want {
		t.Errorf("median %+v, want %+v", got, want)
	}
	if got := median(runs[:2]); got.RPS != 40000 || got.P99 != 12500*time.Microsecond {
		t.Errorf("median of two %+v, want the means of the middle values", got)
	}
}

func TestBestBase_IsTheHigherOfGoAndPgbench(t *testing.T) {
	r := result{base: []level{{1, 2500}, {4, 2965}}, pgbench: []level{{1, 3244}, {2, 3946}, {64, 270}}}
	if got := r.bestBase(); got.tps != 3946 || got.source != "pgbench, 2 clients" {
		t.Errorf("best %+v, want pgbench at 2 clients", got)
	}
	r.pgbench = nil
	if got := r.bestBase(); got.tps != 2965 || got.source != "Go, 4 connections" {
		t.Errorf("best without pgbench %+v, want Go at 4 connections", got)
	}
}

func TestParseSoldOutPath(t *testing.T) {
	out := []byte(`goos: linux
goarch: amd64
pkg: github.com/seckill/seckill/internal/activity
BenchmarkSoldOutPath/bare-2         	  300000	       262.5 ns/op	      96 B/op	       2 allocs/op
BenchmarkSoldOutPath/handler-2      	  300000	      2920 ns/op	    1200 B/op	       9 allocs/op
BenchmarkSoldOutPath/middleware+tracing-2         	  300000	      4522 ns/op	    1746 B/op	      14 allocs/op
PASS
ok  	github.com/seckill/seckill/internal/activity	4.635s
`)
	ls, err := parseSoldOutPath(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []pathLayer{{"bare", 262.5, 96, 2}, {"handler", 2920, 1200, 9}, {"middleware+tracing", 4522, 1746, 14}}
	if len(ls) != len(want) {
		t.Fatalf("got %v, want %v", ls, want)
	}
	for i := range want {
		if ls[i] != want[i] {
			t.Errorf("variant %d = %+v, want %+v", i, ls[i], want[i])
		}
	}
	if table := pathTable(ls); !strings.Contains(table, "| handler | the seckill handler") || !strings.Contains(table, "| +2658 |") {
		t.Errorf("table:\n%s", table)
	}
	if _, err := parseSoldOutPath([]byte("FAIL\n")); err == nil {
		t.Error("no results, no error")
	}
}
