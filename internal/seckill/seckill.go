// Package seckill decides flash-sale purchases. It is the fast path in front
// of the database, which stays the arbiter: every win is committed by a Store
// (a unique winner per user and a stock that cannot go negative, enforced by
// PostgreSQL) before it is answered, and everything the engine remembers can
// be rebuilt from the Store at any time.
//
// Per activity the engine keeps an admission gate: the winners it knows, the
// claims in flight, a counter of tokens (units not yet claimed) and, once the
// database has said the stock is gone, an immutable final winners map that
// answers every later request without a lock or a database round trip.
// Claims that arrive together are committed by one transaction (group
// commit).
//
// The package is laid out by job: engine.go is the registry of gates (each
// built from a Snapshot once, however many requests ask), gate.go admits
// requests, and commit.go is a gate's group committer, where each batch is
// committed with its own context.
package seckill

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/seckill/seckill/internal/platform/errs"
)

// Status is the outcome of one purchase request.
type Status string

// The outcomes of a purchase request.
const (
	Won        Status = "won"
	AlreadyWon Status = "already_won"
	SoldOut    Status = "sold_out"
	NotStarted Status = "not_started"
	Ended      Status = "ended"
	// Forfeited answers a user who won, then gave the unit back (the order
	// was cancelled or expired): they cannot win again in that activity.
	Forfeited Status = "forfeited"
)

// Outcome is the answer to one purchase request, and the committed fate of
// one claim (a Store's Commit answers Won, AlreadyWon, Forfeited, SoldOut,
// NotStarted or Ended).
type Outcome struct {
	Status  Status
	OrderID uuid.UUID // the new order id for Won, the existing one for AlreadyWon
}

// Won reports whether the user holds an item.
func (o Outcome) Won() bool { return o.Status == Won || o.Status == AlreadyWon }

// known answers a user the winners map knows: their win, or that they
// forfeited it.
func known(orderID uuid.UUID) Outcome {
	if orderID == uuid.Nil {
		return Outcome{Status: Forfeited}
	}
	return Outcome{Status: AlreadyWon, OrderID: orderID}
}

// Activity is what the engine needs to know of a sale.
type Activity struct {
	ID        int64
	Stock     int64
	Remaining int64
	StartTime time.Time
	EndTime   time.Time
}

// Snapshot is an activity's committed state: the gate is built from it.
type Snapshot struct {
	Activity Activity
	// Winners maps every user who won to their order id, or to uuid.Nil
	// when they forfeited the win. The unique (activity, user) pair stays
	// the arbiter: a forfeited user keeps their row and cannot win again.
	Winners map[int64]uuid.UUID
}

// Claim asks for one unit for one user, with the order id the win will carry.
type Claim struct {
	UserID  int64
	OrderID uuid.UUID
}

// Store is the database side of the engine.
type Store interface {
	// Snapshot reads an activity and its winners. It returns an error with
	// code errs.NotFound when the activity does not exist. What it returns
	// must be as durable as a commit (on the synchronous standby where
	// commits wait for one), since the gate answers from it; a win it
	// cannot vouch for is an error, never a winner.
	Snapshot(ctx context.Context, activityID int64) (Snapshot, error)
	// Commit decides claims in one transaction: a user already among the
	// winners gets AlreadyWon with the stored order id, or Forfeited when
	// the win was given back; outside the sale window by the store's clock
	// the others get NotStarted or Ended; inside it they win, in order,
	// while stock remains and get SoldOut after. It returns one Outcome per
	// claim and the stock remaining after the commit. An error with code
	// errs.NotFound means the activity is gone and nothing was committed;
	// after any other error nothing was committed, or the commit's fate is
	// unknown: Resolve tells which.
	Commit(ctx context.Context, activityID int64, claims []Claim) ([]Outcome, int64, error)
	// Resolve reads which of users are winners, with their order ids
	// (uuid.Nil for a forfeited win), or every winner when users is nil.
	// Its answer is held to Snapshot's durability: the engine answers
	// from it.
	Resolve(ctx context.Context, activityID int64, users []int64) (map[int64]uuid.UUID, error)
}

// ErrUnknownOutcome is returned, wrapped with the commit's and the read's
// causes, when a claim's commit failed and the database could not be asked
// whether it happened; the caller must answer that it does not know (503),
// never guess. Match it with errors.Is.
var ErrUnknownOutcome error = errs.E(errs.Unavailable, "the purchase could not be confirmed; the database is unavailable, retry to learn the outcome")
