package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seckill/seckill/internal/platform/db"
	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/testing/pgtest"
)

// TestConfirmReplicated_WaitsForTheStandby reads a row whose commit waited
// for a synchronous standby that never came and was cancelled: the row is
// committed locally and the read sees it, but ConfirmReplicated must not
// vouch for it. It fails within its deadline, and succeeds once the
// standby requirement is lifted. On the way, Transact's commit cut off by
// its context is reported as an unknown outcome.
func TestConfirmReplicated_WaitsForTheStandby(t *testing.T) {
	stall := pgtest.NewStall(t)
	pool, err := pgxpool.New(context.Background(), stall.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	stall.CommitLocallyOnly(t, func(ctx context.Context) error {
		_, err := pool.Exec(ctx, `CREATE TABLE public.unreplicated (id int)`)
		return err
	})
	var visible bool
	if err := pool.QueryRow(context.Background(), `SELECT to_regclass('public.unreplicated') IS NOT NULL`).Scan(&visible); err != nil || !visible {
		t.Fatalf("the locally committed table is not visible (err %v): the test set up nothing", err)
	}

	// The technique a first draft used: a transaction that only takes an
	// id writes nothing to the WAL, and PostgreSQL commits it without
	// waiting for the standby, so it would confirm nothing.
	idCtx, idCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer idCancel()
	if _, err := pool.Exec(idCtx, `SELECT pg_current_xact_id()`); err != nil {
		t.Errorf("a transaction that only takes an id waited for the standby (%v): ConfirmReplicated's doc comment is out of date", err)
	}

	const deadline = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	err = db.ConfirmReplicated(ctx, pool)
	if got, want := errs.CodeOf(err), errs.Unavailable; got != want {
		t.Fatalf("ConfirmReplicated = %v (code %v), want code %v", err, got, want)
	}
	if took := time.Since(start); took > deadline+time.Second {
		t.Errorf("ConfirmReplicated took %v with a deadline of %v", took, deadline)
	}

	// A write's commit cut off the same way leaves Transact without an
	// answer: it says the outcome is unknown, not that nothing happened.
	tctx, tcancel := context.WithTimeout(context.Background(), deadline)
	defer tcancel()
	err = db.Transact(tctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(tctx, `INSERT INTO public.unreplicated VALUES (1)`)
		return err
	})
	if !errors.Is(err, db.ErrCommitOutcomeUnknown) || errs.CodeOf(err) != errs.Unavailable {
		t.Errorf("Transact with its commit cut off = %v, want ErrCommitOutcomeUnknown, code %q", err, errs.Unavailable)
	}
	err = db.Transact(context.Background(), pool, func(tx pgx.Tx) error { return nil })
	if errors.Is(err, db.ErrCommitOutcomeUnknown) {
		t.Errorf("Transact's commit of nothing = %v, want no unknown outcome", err)
	}

	stall.End(t)
	if err := db.ConfirmReplicated(context.Background(), pool); err != nil {
		t.Errorf("ConfirmReplicated after the standby requirement was lifted: %v", err)
	}
}

// TestConfirmReplicated_RefusesATransaction checks that a call inside a
// transaction, whose commit would only come later, is an error rather than
// a confirmation.
func TestConfirmReplicated_RefusesATransaction(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.NewPool(t)
	if err := db.ConfirmReplicated(ctx, pool); err != nil {
		t.Fatalf("ConfirmReplicated on a pool: %v", err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // the test is over either way
	if err := db.ConfirmReplicated(ctx, tx); err == nil {
		t.Error("ConfirmReplicated inside a transaction succeeded")
	}
}

// BenchmarkConfirmReplicated measures what a confirmation costs a read on a
// server without synchronous standbys, beside a bare round trip: the
// difference is one commit record and its WAL flush. It runs on a cluster
// of its own with fsync on, PostgreSQL's default (the shared test cluster
// runs without it, which would hide the flush).
func BenchmarkConfirmReplicated(b *testing.B) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.NewCluster(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	b.Run("RoundTrip", func(b *testing.B) {
		for b.Loop() {
			if _, err := pool.Exec(ctx, `SELECT 1`); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Confirm", func(b *testing.B) {
		for b.Loop() {
			if err := db.ConfirmReplicated(ctx, pool); err != nil {
				b.Fatal(err)
			}
		}
	})
}
