package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seckill/seckill/internal/devstack/pgserver"
)

// NewCluster starts a PostgreSQL cluster for t alone, creates a database in
// it holding every service's migrated schema, and returns that database's
// URL. The cluster is stopped and removed when t ends. Unlike the shared
// cluster NewDB clones from, it keeps PostgreSQL's default durability
// (fsync on), so what a benchmark measures on it is what a server does,
// and its settings may be changed (see NewStall) without touching any
// other test. It takes seconds: use NewDB unless the cluster must be t's.
func NewCluster(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "seckill-pgtest-own-")
	if err != nil {
		t.Fatal(err)
	}
	c, err := pgserver.New(ctx, filepath.Join(dir, "data"), 0)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatalf("pgtest: start cluster: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Errorf("pgtest: stop cluster: %v", err)
		}
		_ = c.Remove()
		_ = os.Remove(dir)
	})
	if err := c.CreateDatabase(ctx, "seckill", ""); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	url := c.URL("seckill")
	if err := migrateAll(ctx, url); err != nil {
		t.Fatalf("pgtest: migrate: %v", err)
	}
	return url
}

// Stall is a cluster of one test's own on which every commit waits for a
// synchronous standby that does not exist, as on a leader under strict
// synchronous replication whose standby is gone: a commit returns only when
// its wait is cancelled, and its transaction then stays committed locally,
// visible to every other session, though no standby has it.
type Stall struct {
	// URL is a database holding every service's migrated schema. A commit
	// of a session on it waits for the standby.
	URL string
	// Local is a pool on the same database whose commits do not wait
	// (synchronous_commit=local): to set up and inspect what a test reads.
	Local *pgxpool.Pool
	// waiting is a pool on URL, for the probes that see whether commits wait.
	waiting *pgxpool.Pool
}

// NewStall starts a cluster for t (NewCluster) and makes its commits wait
// for a standby named ghost, which never comes. It returns once a commit
// has been seen waiting for it.
func NewStall(t testing.TB) *Stall {
	t.Helper()
	s := &Stall{URL: NewCluster(t)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "local"
	if s.Local, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Local.Close)
	if s.waiting, err = pgxpool.New(ctx, s.URL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.waiting.Close)

	// ALTER SYSTEM rather than a server option: a command-line setting
	// would outrank the RESET that End needs.
	if _, err := s.Local.Exec(ctx, `ALTER SYSTEM SET synchronous_standby_names = 'ghost'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Local.Exec(ctx, `SELECT pg_reload_conf()`); err != nil {
		t.Fatal(err)
	}
	// The setting takes effect once the server's processes have reloaded
	// it: until then a commit returns at once, and the probe tries again.
	for {
		waited, err := s.commitWaiting(ctx, s.probe)
		if waited {
			return s
		}
		if ctx.Err() != nil {
			t.Fatalf("pgtest: no commit waited for the missing standby within a minute (last error %v)", err)
		}
	}
}

// probe commits a transaction that writes to the WAL (a transaction that
// wrote nothing does not wait for a standby), on a session whose commits
// wait for it.
func (s *Stall) probe(ctx context.Context) error {
	_, err := s.waiting.Exec(ctx, `SELECT pg_logical_emit_message(true, 'pgtest.probe', '')`)
	return err
}

// CommitLocallyOnly runs write, which must commit one transaction on
// s.URL, and cancels write's context once that commit waits for the
// standby, as a request's deadline would. It returns once the session that
// waited is idle or gone: the transaction is then committed locally and
// visible to every session, and no standby has it. write's error, which
// the cancellation causes, is not a failure.
func (s *Stall) CommitLocallyOnly(t testing.TB, write func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	waited, err := s.commitWaiting(ctx, write)
	if !waited {
		t.Fatalf("pgtest: the write's commit was never seen waiting for the standby (write or wait error: %v)", err)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("pgtest: waiting for the write's session to end: %v", err)
	}
}

// End lifts the standby requirement, as a repaired or reconfigured cluster
// would: every waiting commit returns, and later ones no longer wait. It
// returns once a commit returned.
func (s *Stall) End(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.Local.Exec(ctx, `ALTER SYSTEM RESET synchronous_standby_names`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Local.Exec(ctx, `SELECT pg_reload_conf()`); err != nil {
		t.Fatal(err)
	}
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		err := s.probe(pctx)
		pcancel()
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("pgtest: commits still wait a minute after the standby requirement was lifted: %v", err)
		}
	}
}

// commitWaiting runs write and watches the database for a client session
// whose commit waits for the standby, which it takes to be write's. When one shows, it cancels write's context
// and reports true once that session is idle or gone (the error then is
// write's, or the watch's). When write returns first, nothing waited: it
// reports false with write's error.
func (s *Stall) commitWaiting(ctx context.Context, write func(ctx context.Context) error) (bool, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- write(wctx) }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var pid int32
	for {
		select {
		case err := <-done:
			return false, err
		case <-ctx.Done():
			return false, ctx.Err()
		case <-tick.C:
		}
		// Client sessions only: autovacuum's commits wait for the standby too.
		err := s.Local.QueryRow(ctx, `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND backend_type = 'client backend' AND wait_event = 'SyncRep' LIMIT 1`).Scan(&pid)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			cancel()
			<-done
			return false, fmt.Errorf("look for a waiting commit: %w", err)
		}
		break
	}
	cancel()
	werr := <-done
	for {
		var busy bool
		err := s.Local.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state <> 'idle')`, pid).Scan(&busy)
		switch {
		case err != nil:
			return true, fmt.Errorf("watch session %d: %w", pid, err)
		case !busy:
			return true, werr
		}
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case <-tick.C:
		}
	}
}
