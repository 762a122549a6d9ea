// Command activity runs the activity service.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/seckill/seckill/internal/activity"
	"github.com/seckill/seckill/internal/platform/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := activity.Run(ctx, os.Getenv, os.Stderr, app.Options{OwnsProcess: true}); err != nil {
		fmt.Fprintln(os.Stderr, "activity:", err)
		os.Exit(1)
	}
}
