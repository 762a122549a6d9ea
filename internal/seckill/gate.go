package seckill

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// gate is one activity's admission state. It has its own dependencies: the
// store its committer writes to, the engine's options, and forget, which
// drops the gate from its registry when its counts can no longer be trusted.
type gate struct {
	id     int64
	store  Store
	opt    Options
	forget func()
	start  time.Time
	end    time.Time
	loaded time.Time // when the snapshot was read

	// final, once set, holds every winner of a sold-out activity (and every
	// forfeited one, as uuid.Nil). It never changes again, so readers need
	// no lock; units given back later are sold by a new gate, which the
	// activity service builds by dropping this one.
	final atomic.Pointer[map[int64]uuid.UUID]

	mu       sync.Mutex
	winners  map[int64]uuid.UUID // as Snapshot.Winners
	inflight map[int64]*claim
	pending  []*claim
	tokens   int64 // units not yet held by a claim, as far as this process knows
	held     int64 // pending claims holding a token
	settled  chan struct{}
	wake     chan struct{}
	closed   bool
}

// claim is one admitted request waiting for its commit.
type claim struct {
	Claim
	req   context.Context // the request's, for Options.Trace to link to
	token bool
	done  chan struct{}
	out   Outcome
	err   error
}

var errGateClosed = errors.New("gate closed")

func newGate(s Snapshot, store Store, opt Options, forget func()) *gate {
	a := s.Activity
	g := &gate{id: a.ID, store: store, opt: opt, forget: forget, start: a.StartTime, end: a.EndTime, loaded: opt.Now(),
		winners: s.Winners, inflight: map[int64]*claim{}, tokens: a.Remaining,
		settled: make(chan struct{}), wake: make(chan struct{}, 1)}
	if g.winners == nil {
		g.winners = map[int64]uuid.UUID{}
	}
	if a.Remaining == 0 {
		final := maps.Clone(g.winners)
		g.final.Store(&final)
	}
	return g
}

// buy admits one request: it answers from memory what memory can prove, and
// queues a claim for the committer otherwise.
func (g *gate) buy(ctx context.Context, userID int64) (Outcome, error) {
	now := g.opt.Now()
	// The sold-out path: no lock, no allocation, no database.
	if f := g.final.Load(); f != nil {
		if id, ok := (*f)[userID]; ok {
			return known(id), nil
		}
		if !now.Before(g.end) {
			g.refreshIfOld(now)
			return Outcome{Status: Ended}, nil
		}
		return Outcome{Status: SoldOut}, nil
	}
	if now.Before(g.start) {
		g.refreshIfOld(now)
		return Outcome{Status: NotStarted}, nil
	}
	for {
		g.mu.Lock()
		if g.closed {
			g.mu.Unlock()
			return Outcome{}, errGateClosed
		}
		if id, ok := g.winners[userID]; ok {
			g.mu.Unlock()
			return known(id), nil
		}
		if !now.Before(g.end) {
			g.mu.Unlock()
			g.refreshIfOld(now)
			return Outcome{Status: Ended}, nil
		}
		if c, ok := g.inflight[userID]; ok {
			// The user's other request is being decided: share its fate.
			g.mu.Unlock()
			if err := wait(ctx, c.done); err != nil {
				return Outcome{}, err
			}
			if c.err != nil {
				return Outcome{}, c.err
			}
			if c.out.Status == Won {
				return Outcome{Status: AlreadyWon, OrderID: c.out.OrderID}, nil
			}
			return c.out, nil
		}
		if f := g.final.Load(); f != nil {
			g.mu.Unlock()
			return g.buy(ctx, userID)
		}
		if g.tokens == 0 && g.held > 0 {
			// Every unit is held by a claim in flight. Wait until they
			// settle: a refused one gives its token back.
			ch := g.settled
			g.mu.Unlock()
			if err := wait(ctx, ch); err != nil {
				return Outcome{}, err
			}
			continue
		}
		oid, err := uuid.NewV7()
		if err != nil {
			g.mu.Unlock()
			return Outcome{}, fmt.Errorf("order id: %w", err)
		}
		c := &claim{Claim: Claim{UserID: userID, OrderID: oid}, req: ctx, done: make(chan struct{})}
		// With no token left and none held, only the database can say
		// whether stock remains (another instance may have returned some):
		// the claim goes without a token and the commit re-syncs the count.
		if g.tokens > 0 {
			g.tokens--
			g.held++
			c.token = true
		}
		g.inflight[userID] = c
		g.pending = append(g.pending, c)
		g.mu.Unlock()
		g.signal()
		if err := wait(ctx, c.done); err != nil {
			// The claim goes on; a retry learns its outcome.
			return Outcome{}, err
		}
		return c.out, c.err
	}
}

// refreshAfter is how long a gate outside its sale window trusts its copy
// of the window. Another instance may have moved the window (PUT on the
// activity there); re-reading it at most once a second costs the database
// nothing while the sale is on, when the window is not consulted.
const refreshAfter = time.Second

func (g *gate) refreshIfOld(now time.Time) {
	if now.Sub(g.loaded) > refreshAfter {
		g.forget()
	}
}

// signal wakes the committer.
func (g *gate) signal() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// close refuses new claims; the committer commits the queued ones and stops.
func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.signal()
}
