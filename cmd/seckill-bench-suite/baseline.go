package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seckill/seckill/internal/devstack/pgserver"
	"github.com/seckill/seckill/internal/platform/db"
	"github.com/seckill/seckill/migrations"
)

// migratedDatabase creates database name on cluster with every service's
// schema and returns its URL.
func migratedDatabase(ctx context.Context, cluster *pgserver.Cluster, name string) (string, error) {
	if err := cluster.CreateDatabase(ctx, name, ""); err != nil {
		return "", err
	}
	url := cluster.URL(name)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return "", err
	}
	defer pool.Close()
	for _, set := range migrations.All() {
		if err := db.Migrate(ctx, pool, set.Schema, set.FS, slog.New(slog.DiscardHandler)); err != nil {
			return "", fmt.Errorf("migrate %s: %w", name, err)
		}
	}
	return url, nil
}

// tracingRuns is how many full-speed runs with tracing off, and on, make
// bench compares.
const tracingRuns = 3

// level is one database baseline measurement: connections (pgbench's
// clients) and committed single-win transactions a second.
type level struct {
	conns int
	tps   float64
}

// baselineActivity creates an activity with a stock that never runs out
// for a database baseline named name, and returns its id: each baseline
// gets a row of its own, fresh when it starts.
func baselineActivity(ctx context.Context, pool *pgxpool.Pool, name string) (int64, error) {
	var id int64
	err := pool.QueryRow(ctx, `INSERT INTO activity.activities (name, product_id, price, stock, remaining, start_time, end_time)
		VALUES ($1, 1, 1, 1000000000, 1000000000, now(), now() + interval '1 hour') RETURNING id`, name).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("create the %s activity: %w", name, err)
	}
	return id, nil
}

// baseline drives the seckill transaction straight at PostgreSQL from n
// connections for several n and returns every level's committed rate.
func baseline(ctx context.Context, dbURL string, d time.Duration, out io.Writer) ([]level, error) {
	pool, err := pgxpool.New(ctx, dbURL+"&pool_max_conns=64")
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	id, err := baselineActivity(ctx, pool, "database baseline, Go")
	if err != nil {
		return nil, err
	}
	var user atomic.Int64
	var levels []level
	for _, n := range baselineLevels {
		var commits atomic.Int64
		lctx, cancel := context.WithTimeout(ctx, d)
		var wg sync.WaitGroup
		var firstErr atomic.Value
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for lctx.Err() == nil {
					u := user.Add(1)
					err := db.Transact(lctx, pool, func(tx pgx.Tx) error {
						if _, err := tx.Exec(lctx, `INSERT INTO activity.winners (activity_id, user_id, order_id) VALUES ($1, $2, $3)`, id, u, uuid.New()); err != nil {
							return err
						}
						_, err := tx.Exec(lctx, `UPDATE activity.activities SET remaining = remaining - 1 WHERE id = $1 AND remaining >= 1`, id)
						return err
					})
					if err == nil {
						commits.Add(1)
					} else if lctx.Err() == nil {
						firstErr.CompareAndSwap(nil, err)
					}
				}
			}()
		}
		wg.Wait()
		cancel()
		if err, ok := firstErr.Load().(error); ok {
			return nil, fmt.Errorf("baseline at %d connections: %w", n, err)
		}
		l := level{conns: n, tps: float64(commits.Load()) / d.Seconds()}
		fmt.Fprintf(out, "  Go,      %2d connections: %7.0f committed transactions/s\n", n, l.tps)
		levels = append(levels, l)
	}
	return levels, nil
}
