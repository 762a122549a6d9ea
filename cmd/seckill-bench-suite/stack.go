package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/seckill/seckill/internal/bench"
	"github.com/seckill/seckill/internal/devstack"
)

// runBench runs bin/seckill-bench in a process of its own, so that every
// load comes from the same client in the same state: with args, and env
// added to this process's environment. It decodes its JSON output into out.
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
// full speed), how often to poll the stats for the stock gone (0: not),
// and any extra environment for the services.
type sale struct {
	users, stock int
	rate         float64
	watch        time.Duration
	env          []string
}

// winningSale is make bench's winning phase: stock o.winStock bought by
// o.winUsers users, timed through the stats polled every o.watch. make
// bench-ha runs the same sale on each stack it compares.
func winningSale(o options) sale {
	return sale{users: o.winUsers, stock: o.winStock, watch: o.watch}
}

// services is where a sale's requests go: the three services' base URLs,
// and the administrator's token they run with.
type services struct {
	activity, product, order string
	admin                    string
}

// stackRun starts the three services on the cluster with the launcher make
// run uses, runs seckill-bench against them, then after (when not nil)
// while the stack is still up, and returns the report and the activity
// process's peak RSS.
func stackRun(ctx context.Context, o options, dbURL, tmp string, s sale, after func(*devstack.Stack, bench.Report) error) (bench.Report, int64, error) {
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
	r, err := saleOn(ctx, o, services{st.Activity.URL, st.Product.URL, st.Order.URL, st.AdminToken}, s)
	if err != nil {
		return bench.Report{}, 0, err
	}
	rss := peakRSS(st.Activity.PID())
	if after != nil {
		if err := after(st, r); err != nil {
			return bench.Report{}, 0, err
		}
	}
	return r, rss, nil
}

// saleOn runs seckill-bench against running services: it creates the sale,
// drives the crowd and verifies every promise.
func saleOn(ctx context.Context, o options, svc services, s sale) (bench.Report, error) {
	var r bench.Report
	// The admin token goes by the environment, not a flag ps would show.
	err := runBench(ctx, o, &r, []string{"ADMIN_TOKEN=" + svc.admin}, "-activity", svc.activity, "-product", svc.product, "-order", svc.order,
		"-stock", strconv.Itoa(s.stock), "-users", strconv.Itoa(s.users), "-conns", strconv.Itoa(o.conns),
		"-relay-deadline", "2m", "-rate", strconv.FormatFloat(s.rate, 'f', 0, 64), "-watch-sellout", s.watch.String(), "-json")
	return r, err
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
