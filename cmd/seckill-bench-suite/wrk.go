package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// wrkScript is the wrk workload: every user id POSTed twice in a
// row. It lives in wrk/seckill.lua for anyone to run by hand.
//
//go:embed wrk/seckill.lua
var wrkScript []byte

// wrkThreads is wrk's -t, as in the measurements.
const wrkThreads = 2

// wrkResult is what one wrk run reports.
type wrkResult struct {
	RPS      float64
	P99      time.Duration
	Requests int64
	// Non2xx and SocketErrors count the answers that were not 2xx or 3xx,
	// and the connect, read, write and timeout errors.
	Non2xx, SocketErrors int64
}

// findWrk returns wrk's path and the path of wrkScript, written into dir.
// When wrk is not to run (runs <= 0, -wrk-runs 0) or not on PATH, it sets
// *skipped to why and returns no paths.
func findWrk(dir string, runs int, skipped *string, stdout io.Writer) (bin, script string, err error) {
	if runs <= 0 {
		*skipped = "wrk runs were turned off (-wrk-runs 0)"
		return "", "", nil
	}
	bin, err = exec.LookPath("wrk")
	if err != nil {
		*skipped = "wrk is not on PATH"
		fmt.Fprintln(stdout, "  wrk skipped: not on PATH")
		return "", "", nil
	}
	script = filepath.Join(dir, "seckill.lua")
	return bin, script, os.WriteFile(script, wrkScript, 0o644)
}

// runWrk runs wrk with script against url: wrkThreads threads, conns
// connections, for d.
func runWrk(ctx context.Context, bin, script, url string, conns int, d time.Duration) (wrkResult, error) {
	cmd := exec.CommandContext(ctx, bin, "-t"+strconv.Itoa(wrkThreads), "-c"+strconv.Itoa(conns), "-d"+d.String(), "--latency", "-s", script, url)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	r, perr := parseWrk(buf.String())
	if err != nil || perr != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w\n%s", url, errors.Join(err, perr), buf.String())
	}
	return r, nil
}

var (
	wrkRPS      = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkP99      = regexp.MustCompile(`(?m)^\s+99%\s+([0-9.]+)(us|ms|s|m)\s*$`)
	wrkRequests = regexp.MustCompile(`(?m)^\s+([0-9]+) requests in `)
	wrkNon2xx   = regexp.MustCompile(`(?m)^\s+Non-2xx or 3xx responses: ([0-9]+)`)
	wrkSocket   = regexp.MustCompile(`(?m)^\s+Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)`)
)

// parseWrk reads wrk's --latency output: requests/s, the 99th percentile,
// the request count, and the non-2xx answers and socket errors when wrk
// reports any.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	m := wrkRPS.FindStringSubmatch(out)
	if m == nil {
		return r, errors.New("wrk: no Requests/sec line in its output")
	}
	r.RPS, _ = strconv.ParseFloat(m[1], 64)
	if m = wrkP99.FindStringSubmatch(out); m == nil {
		return r, errors.New("wrk: no 99% line in its output (run with --latency)")
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute}[m[2]]
	r.P99 = time.Duration(v * float64(unit))
	if m = wrkRequests.FindStringSubmatch(out); m != nil {
		r.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m = wrkNon2xx.FindStringSubmatch(out); m != nil {
		r.Non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m = wrkSocket.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.SocketErrors += n
		}
	}
	return r, nil
}

// wrkComparison is wrk against the sold-out seckill endpoint and against
// the bare handler, in alternating runs.
type wrkComparison struct {
	skipped       string // why wrk did not run, when it did not
	runs          int
	duration      time.Duration
	conns         int
	seckill, bare []wrkResult
}

// median returns the median requests/s and the median p99 of runs, and the
// sums of their non-2xx answers and socket errors.
func median(runs []wrkResult) wrkResult {
	if len(runs) == 0 {
		return wrkResult{}
	}
	rps := make([]float64, len(runs))
	p99 := make([]time.Duration, len(runs))
	var out wrkResult
	for i, r := range runs {
		rps[i], p99[i] = r.RPS, r.P99
		out.Requests += r.Requests
		out.Non2xx += r.Non2xx
		out.SocketErrors += r.SocketErrors
	}
	sort.Float64s(rps)
	sort.Slice(p99, func(i, j int) bool { return p99[i] < p99[j] })
	n := len(runs)
	if n%2 == 0 {
		out.RPS, out.P99 = (rps[n/2-1]+rps[n/2])/2, (p99[n/2-1]+p99[n/2])/2
	} else {
		out.RPS, out.P99 = rps[n/2], p99[n/2]
	}
	return out
}

// errorsNote says how many of the runs' answers were not 2xx or failed, or
// nothing when none.
func (r wrkResult) errorsNote() string {
	var parts []string
	if r.Non2xx > 0 {
		parts = append(parts, fmt.Sprintf("%d non-2xx", r.Non2xx))
	}
	if r.SocketErrors > 0 {
		parts = append(parts, fmt.Sprintf("%d socket errors", r.SocketErrors))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
