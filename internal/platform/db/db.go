// Package db opens the PostgreSQL pool, runs transactions, applies a
// service's embedded migrations into its own schema, and maps PostgreSQL
// errors to application error codes.
package db

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"

	"github.com/seckill/seckill/internal/platform/errs"
)

// Options tune the pool.
type Options struct {
	MaxConns int32           // 0 keeps pgx's default
	Tracer   pgx.QueryTracer // nil for none
}

// Open connects a pool to url. It does not fail when the database is down:
// the pool connects lazily, so a service can start, report not-ready on
// /readyz, and recover without a restart.
func Open(ctx context.Context, url string, o Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	cfg.ConnConfig.Tracer = o.Tracer
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	// A connection that broke while the database restarted is dropped
	// before it is handed out again.
	cfg.HealthCheckPeriod = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	return pool, nil
}

// Beginner is what Transact needs: a pool or a connection.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// ErrCommitOutcomeUnknown is in the chain of Transact's error when the
// commit was sent and no answer came back (the context ended, the
// connection broke): the transaction may have committed or not. A caller
// that must not guess reads the outcome back. Match it with errors.Is.
var ErrCommitOutcomeUnknown = errors.New("the commit's outcome is unknown")

// Transact runs fn in a transaction, committing when fn returns nil and
// rolling back otherwise.
func Transact(ctx context.Context, b Beginner, fn func(tx pgx.Tx) error) (err error) {
	tx, err := b.Begin(ctx)
	if err != nil {
		// Mapped, so a database that is down answers 503, not 500.
		return Map(fmt.Errorf("begin: %w", err), "transaction")
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(ctx); err != nil {
		// A refusal from the server (an error, or a COMMIT answered as a
		// rollback) is an answer: nothing was committed. Anything else
		// left the commit without one.
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) && !errors.Is(err, pgx.ErrTxCommitRollback) {
			err = fmt.Errorf("%w: %w", ErrCommitOutcomeUnknown, err)
		}
		return Map(fmt.Errorf("commit: %w", err), "transaction")
	}
	return nil
}

// PostgreSQL error codes the services act on.
const (
	UniqueViolation     = "23505"
	ForeignKeyViolation = "23503"
	CheckViolation      = "23514"
	NotNullViolation    = "23502"
	NumericOutOfRange   = "22003"
)

// Map turns a database error into an application error. what names the
// thing being read or written, for the message ("product 7"). Unique and
// check violations become Conflict, a missing row NotFound, a database that
// cannot be reached Unavailable, anything else Internal.
func Map(err error, what string) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return errs.Wrap(errs.NotFound, err, what+" not found")
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case UniqueViolation:
			return errs.Wrap(errs.Conflict, err, what+" already exists")
		case ForeignKeyViolation, CheckViolation:
			return errs.Wrap(errs.Conflict, err, what+" conflicts with the current state")
		case NumericOutOfRange:
			return errs.Wrap(errs.Invalid, err, what+": a number is out of range")
		}
	}
	if Unavailable(err) {
		return errs.Wrap(errs.Unavailable, err, "database unavailable")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errs.Wrap(errs.Unavailable, err, "database did not answer in time")
	}
	return errs.Wrap(errs.Internal, err, "database error")
}

// Unavailable reports whether err means the database could not be reached or
// is shutting down, as opposed to refusing the statement.
func Unavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "08", "53", "57": // connection exception, insufficient resources, operator intervention
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, puddle.ErrClosedPool)
}

// Ping checks that the database answers within a short time, for /readyz.
func Ping(ctx context.Context, p interface{ Ping(context.Context) error }) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := p.Ping(ctx); err != nil {
		return errs.Wrap(errs.Unavailable, err, "database unavailable")
	}
	return nil
}
