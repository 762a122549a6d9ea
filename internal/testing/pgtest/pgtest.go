// Package pgtest gives tests a real PostgreSQL database of their own.
//
// A test binary calls Main from TestMain. When TEST_DATABASE_URL is set its
// server is used; otherwise Main starts a throwaway cluster in a temporary
// directory on a free port and stops it when the tests end. NewDB gives each
// test a fresh database cloned from a template that holds every service's
// migrated schema, so a test starts from an empty, fully migrated database in
// milliseconds. Without PostgreSQL server binaries the tests fail with a
// message naming the package to install; they are never skipped.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seckill/seckill/internal/devstack/pgserver"
	"github.com/seckill/seckill/internal/platform/db"
	"github.com/seckill/seckill/migrations"
)

var (
	mu       sync.Mutex
	adminURL string // URL of the maintenance database
	template string // name of the migrated template database
	setupErr error
	cluster  *pgserver.Cluster
	once     sync.Once
)

// Main runs the tests of a package that uses NewDB, and tears down the
// cluster it started. Use it as: func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if template != "" && setupErr == nil {
		if conn, err := pgx.Connect(ctx, adminURL); err == nil {
			_, _ = conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{template}.Sanitize()+" IS_TEMPLATE false")
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{template}.Sanitize()+" WITH (FORCE)")
			conn.Close(ctx)
		}
	}
	if cluster != nil {
		if err := cluster.Stop(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest: stop cluster:", err)
		}
		_ = cluster.Remove()
		_ = os.Remove(filepath.Dir(cluster.Dir))
	}
	return code
}

func setup() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adminURL = os.Getenv("TEST_DATABASE_URL")
	if adminURL == "" {
		dir, err := os.MkdirTemp("", "seckill-pgtest-")
		if err != nil {
			setupErr = err
			return
		}
		// fsync off: these clusters hold throwaway data, and tests that
		// crash processes crash the services, never PostgreSQL.
		c, err := pgserver.New(ctx, filepath.Join(dir, "data"), 0, "fsync=off", "full_page_writes=off")
		if err != nil {
			setupErr = fmt.Errorf("pgtest: %w", err)
			return
		}
		if err := c.Start(ctx); err != nil {
			setupErr = fmt.Errorf("pgtest: start cluster: %w", err)
			return
		}
		cluster = c
		adminURL = c.URL("postgres")
	}
	template = "seckill_tmpl_" + randomSuffix()
	if err := createDatabase(ctx, template, ""); err != nil {
		setupErr = err
		return
	}
	if err := migrateAll(ctx, withDatabase(adminURL, template)); err != nil {
		setupErr = fmt.Errorf("pgtest: migrate template: %w", err)
	}
}

// migrateAll applies every service's migrations to the database at url.
func migrateAll(ctx context.Context, url string) error {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	for _, set := range migrations.All() {
		if err := db.Migrate(ctx, pool, set.Schema, set.FS, slog.New(slog.DiscardHandler)); err != nil {
			return err
		}
	}
	return nil
}

// NewDB creates a fresh, fully migrated database for t, drops it when t
// ends, and returns its URL.
func NewDB(t testing.TB) string {
	t.Helper()
	mu.Lock()
	once.Do(setup)
	err := setupErr
	mu.Unlock()
	if err != nil {
		t.Fatalf("no test database: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "seckill_test_" + randomSuffix()
	if err := createDatabase(ctx, name, template); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if conn, err := pgx.Connect(ctx, adminURL); err == nil {
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			conn.Close(ctx)
		}
	})
	return withDatabase(adminURL, name)
}

// NewPool is NewDB plus a pool on it that is closed when t ends.
func NewPool(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	u := NewDB(t)
	pool, err := pgxpool.New(context.Background(), u)
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool, u
}

// createDatabase serialises CREATE DATABASE: PostgreSQL refuses to copy a
// template that another session is using, which concurrent creations do.
func createDatabase(ctx context.Context, name, tmpl string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("pgtest: connect to %s: %w", adminURL, err)
	}
	defer conn.Close(ctx)
	q := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if tmpl != "" {
		q += " TEMPLATE " + pgx.Identifier{tmpl}.Sanitize()
	}
	createMu.Lock()
	defer createMu.Unlock()
	if _, err := conn.Exec(ctx, q); err != nil {
		return fmt.Errorf("pgtest: %s: %w", q, err)
	}
	return nil
}

var createMu sync.Mutex

func withDatabase(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + name
	return u.String()
}

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(hex.EncodeToString(b[:]))
}

// Explain prefixes a statement to run it under EXPLAIN ANALYZE.
const Explain = `EXPLAIN (ANALYZE, COSTS OFF) `

// PlanText collects the rows of an EXPLAIN into the plan's text, for tests
// that hold a statement to a shape (key probes, not scans). The statement
// stays at the call site, constant.
func PlanText(t testing.TB, rows pgx.Rows, err error) string {
	t.Helper()
	if err != nil {
		t.Fatalf("explain: %v", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("explain: %v", err)
	}
	return strings.Join(lines, "\n")
}

// Rows returns every row of the named tables as text, in a stable order:
// comparing two calls shows whether anything was written in between.
// tables are the test's own constants, never input.
func Rows(t testing.TB, pool *pgxpool.Pool, tables ...string) string {
	t.Helper()
	var b strings.Builder
	for _, tbl := range tables {
		var s string
		schema, name, _ := strings.Cut(tbl, ".")
		q := `SELECT coalesce(string_agg(x::text, E'\n' ORDER BY x::text), '') FROM ` + pgx.Identifier{schema, name}.Sanitize() + ` x`
		if err := pool.QueryRow(context.Background(), q).Scan(&s); err != nil {
			t.Fatalf("read %s: %v", tbl, err)
		}
		fmt.Fprintf(&b, "%s:\n%s\n", tbl, s)
	}
	return b.String()
}
