// Command seckill-bench drives a flash sale against running services, as a
// crowd of users each sending two purchase requests, and verifies every
// promise afterwards. It exits non-zero when any check fails. It sets the
// sale up and reads its orders with the ADMIN_TOKEN of its environment (the
// one the services run with); buyers send no credential, so the services
// must run without USER_JWT_SECRET.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/seckill/seckill/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "seckill-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c bench.Config
	var asJSON, progress bool
	var driveOnly string
	fs.StringVar(&c.ActivityURL, "activity", "http://127.0.0.1:8504", "activity service base URL")
	fs.StringVar(&c.ProductURL, "product", "http://127.0.0.1:8503", "product service base URL")
	fs.StringVar(&c.OrderURL, "order", "http://127.0.0.1:8505", "order service base URL")
	// From the environment rather than a flag, so it does not show in ps.
	c.AdminToken = os.Getenv("ADMIN_TOKEN")
	fs.Int64Var(&c.ActivityID, "activity-id", 0, "use this activity (its stock must be -stock); 0 creates a product and an activity")
	fs.IntVar(&c.Stock, "stock", 1000, "units for sale")
	fs.IntVar(&c.Users, "users", 0, "distinct users (default 100 x stock)")
	fs.Int64Var(&c.FirstUser, "first-user", 1, "first user id, so runs against one activity can use fresh users")
	fs.IntVar(&c.Conns, "conns", 64, "keep-alive connections")
	fs.Float64Var(&c.Rate, "rate", 0, "requests a second to pace the crowd to; 0 sends as fast as answers come back")
	fs.DurationVar(&c.RelayDeadline, "relay-deadline", 60*time.Second, "how long to wait for every win to become an order")
	fs.DurationVar(&c.WatchSellout, "watch-sellout", 0, "poll the activity's stats at this interval (e.g. 20ms) and report when the stock was gone; 0 does not")
	fs.BoolVar(&asJSON, "json", false, "print a machine-readable summary on stdout")
	fs.BoolVar(&progress, "progress", true, "print progress on stderr every second")
	fs.StringVar(&driveOnly, "drive-only", "", "only load this URL with the same users and connections, and report throughput (the ceiling of make bench)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if c.Users == 0 {
		c.Users = 100 * c.Stock
	}
	if progress {
		c.Progress = stderr
	}
	if driveOnly != "" {
		l, err := bench.Drive(ctx, driveOnly, c.Crowd)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(l.Summarize())
	}
	r, err := bench.Run(ctx, c)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		r.Print(stdout)
	}
	if !r.OK {
		return fmt.Errorf("verification failed")
	}
	return nil
}
