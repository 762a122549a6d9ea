package db_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seckill/seckill/internal/platform/db"
	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/testing/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestMap_ClosedConnectionsAreUnavailable checks that a connection or a
// pool that was closed is told apart by the error's type, as a database
// that cannot be reached (503), from a statement the database refused.
func TestMap_ClosedConnectionsAreUnavailable(t *testing.T) {
	ctx := context.Background()
	pool, url := pgtest.NewPool(t)

	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Conn().Close(ctx); err != nil {
		t.Fatal(err)
	}
	_, closedConn := conn.Exec(ctx, `SELECT 1`)
	conn.Release()

	closed, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	_, closedPool := closed.Exec(ctx, `SELECT 1`)

	_, refused := pool.Exec(ctx, `SELECT no_such_column FROM no_such_table`)

	for _, tc := range []struct {
		name string
		err  error
		want errs.Code
	}{
		{"ClosedConn", closedConn, errs.Unavailable},
		{"ClosedPool", closedPool, errs.Unavailable},
		{"RefusedStatement", refused, errs.Internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil {
				t.Fatal("no error")
			}
			if got := errs.CodeOf(db.Map(tc.err, "thing")); got != tc.want {
				t.Errorf("Map(%v) has code %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
