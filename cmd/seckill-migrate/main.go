// Command seckill-migrate applies every service's migrations to DATABASE_URL,
// for `make migrate` and for deployments that turn MIGRATE_ON_START off.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/seckill/seckill/internal/platform/config"
	"github.com/seckill/seckill/internal/platform/db"
	"github.com/seckill/seckill/migrations"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "seckill-migrate:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	env := config.New(getenv)
	url := env.URL("DATABASE_URL", config.DefaultDatabaseURL)
	if err := env.Err(); err != nil {
		return err
	}
	pool, err := db.Open(ctx, url, db.Options{})
	if err != nil {
		return err
	}
	defer pool.Close()
	log := slog.New(slog.NewTextHandler(stderr, nil))
	for _, set := range migrations.All() {
		if err := db.Migrate(ctx, pool, set.Schema, set.FS, log); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "schema %s is up to date\n", set.Schema)
	}
	return nil
}
