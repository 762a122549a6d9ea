// Command product runs the product service.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/seckill/seckill/internal/platform/app"
	"github.com/seckill/seckill/internal/product"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := product.Run(ctx, os.Getenv, os.Stderr, app.Options{OwnsProcess: true}); err != nil {
		fmt.Fprintln(os.Stderr, "product:", err)
		os.Exit(1)
	}
}
