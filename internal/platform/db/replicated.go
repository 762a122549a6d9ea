package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seckill/seckill/internal/platform/errs"
)

// confirmMessagePrefix names the WAL messages ConfirmReplicated writes, for
// a logical decoding client that sees them.
const confirmMessagePrefix = "seckill.confirm_replicated"

// Execer is what ConfirmReplicated needs: a pool or a connection that is
// not in a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// ConfirmReplicated returns nil once everything the caller has read so far
// through the same server is as durable as the caller's own commit would
// be: on the synchronous standby when one is configured. Call it after a
// read and before answering from what the read saw, wherever the answer is
// not built on a commit of the caller's own.
//
// Why a read needs it: under synchronous replication a commit writes its
// record locally, then waits for the standby. When that wait is cancelled
// (pgx cancels the statement when its context ends; so do statement_timeout
// and pg_cancel_backend), PostgreSQL keeps the transaction committed
// locally ("canceling wait for synchronous replication ... already
// committed locally") and every other session on the leader sees it,
// though the standby may never get it. A failover then loses the row, and
// an answer built on it ("won", "paid") is one the database no longer
// agrees with.
//
// How: it commits a transaction of its own, in autocommit, that writes to
// the WAL and so takes a transaction id: a transactional logical decoding
// message (pg_logical_emit_message, open to every role, no table to
// contend on; a decoding client sees it under confirmMessagePrefix and may
// ignore it). Its commit waits like any other. The WAL is one sequence,
// and a transaction becomes visible only after its commit record is
// written, so this commit's record comes after the commit record of every
// transaction the read could see; once the standby has it, it has them
// all. A transaction that only takes an id (SELECT pg_current_xact_id())
// would not do: PostgreSQL commits a transaction that wrote nothing to the
// WAL without flushing or waiting for the standby
// (TestConfirmReplicated_WaitsForTheStandby shows the difference). Without
// synchronous standbys it costs a round trip and one WAL flush
// (BenchmarkConfirmReplicated).
//
// If ctx ends first, pgx cancels the wait and the caller gets an error
// with code errs.Unavailable, never a success. The guarantee is a normal
// commit's and no more: a session with synchronous_commit below on waits
// less, and a wait the server cancels on its own (statement_timeout,
// pg_cancel_backend) returns success with a warning, as it does for every
// commit. q must not be a transaction: the commit that confirms must be
// the statement's own, not one that comes later, if ever.
func ConfirmReplicated(ctx context.Context, q Execer) (err error) {
	defer errs.Annotate(&err, "ConfirmReplicated")
	if _, inTx := q.(pgx.Tx); inTx {
		return errors.New("called inside a transaction, whose commit is still to come: it would confirm nothing")
	}
	if _, err := q.Exec(ctx, `SELECT pg_logical_emit_message(true, $1::text, ''::text)`, confirmMessagePrefix); err != nil {
		return errs.Wrap(errs.Unavailable, fmt.Errorf("commit a WAL message: %w", err),
			"could not confirm the outcome is replicated; retry")
	}
	return nil
}

// Conn is one connection to read through: ReadConfirmed hands its read one
// (a *pgxpool.Conn), and a pgx.Tx is one too.
type Conn interface {
	Execer
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ReadConfirmed runs read on one connection of pool and then confirms on
// that same connection what it saw (ConfirmReplicated). One connection is
// one server, through HAProxy or a multi-host URL alike: a read on a
// leader that then died, confirmed by a commit on its successor, would
// confirm nothing about what was read.
func ReadConfirmed(ctx context.Context, pool *pgxpool.Pool, read func(q Conn) error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return Map(fmt.Errorf("acquire a connection: %w", err), "database")
	}
	defer conn.Release()
	if err := read(conn); err != nil {
		return err
	}
	return ConfirmReplicated(ctx, conn)
}
