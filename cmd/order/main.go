// Command order runs the order service.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/seckill/seckill/internal/order"
	"github.com/seckill/seckill/internal/platform/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := order.Run(ctx, os.Getenv, os.Stderr, app.Options{OwnsProcess: true}); err != nil {
		fmt.Fprintln(os.Stderr, "order:", err)
		os.Exit(1)
	}
}
