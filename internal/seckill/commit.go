package seckill

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/seckill/seckill/internal/platform/errs"
)

// commitLoop is the gate's group committer: whatever claims queued while
// the previous transaction ran are committed together by the next one. It
// returns once the gate is closed and its queue is empty.
func (g *gate) commitLoop() {
	for {
		<-g.wake
		for {
			g.mu.Lock()
			n := min(len(g.pending), g.opt.MaxBatch)
			if n == 0 {
				closed := g.closed
				g.mu.Unlock()
				if closed {
					return
				}
				break
			}
			batch := make([]*claim, n)
			copy(batch, g.pending)
			g.pending = append(g.pending[:0], g.pending[n:]...)
			g.mu.Unlock()
			g.commitBatch(batch)
		}
	}
}

// commitBatch commits one batch within the commit timeout, traced as one
// unit of work when Options.Trace is set.
func (g *gate) commitBatch(batch []*claim) {
	ctx, cancel := context.WithTimeout(context.Background(), g.opt.CommitTimeout)
	defer cancel()
	if g.opt.Trace != nil {
		reqs := make([]context.Context, len(batch))
		for i, c := range batch {
			reqs[i] = c.req
		}
		var end func()
		ctx, end = g.opt.Trace(ctx, g.id, reqs)
		defer end()
	}
	g.commit(ctx, batch)
}

// commit decides a batch and settles its claims.
func (g *gate) commit(ctx context.Context, batch []*claim) {
	claims := make([]Claim, len(batch))
	for i, c := range batch {
		claims[i] = c.Claim
	}
	outs, remaining, err := g.store.Commit(ctx, g.id, claims)
	if errs.Is(err, errs.NotFound) {
		// The activity is gone (deleted on another instance): every claim
		// is answered 404, and the gate is dropped so that the next request
		// asks the database again instead of queueing behind a dead gate.
		for _, c := range batch {
			c.err = err
		}
		g.forget()
		g.settle(batch, -1, nil)
		return
	}
	if err != nil && len(batch) > 1 {
		// One bad claim must not fail the others: decide each alone.
		g.opt.Log.Warn("group commit failed; retrying its claims one by one", "activity_id", g.id, "claims", len(batch), "err", err)
		for _, c := range batch {
			g.commit(ctx, []*claim{c})
		}
		return
	}
	if err != nil {
		g.fail(ctx, batch[0], err)
		return
	}
	wins, closed := 0, false
	for i, c := range batch {
		c.out = outs[i]
		switch c.out.Status {
		case Won:
			wins++
		case NotStarted, Ended:
			closed = true
		}
	}
	if closed {
		// The database's window differs from this gate's copy (another
		// instance moved it): rebuild the gate from the database, so the
		// next requests are answered from the window as it is.
		g.forget()
	}
	var final map[int64]uuid.UUID
	if remaining == 0 {
		// Sold out. Other instances may have winners this one never saw:
		// read them all once, so every later answer comes from memory.
		// A failure here only delays the switch to the final map.
		if all, err := g.store.Resolve(ctx, g.id, nil); err == nil {
			final = all
		} else {
			g.opt.Log.Warn("read winners of a sold-out activity", "activity_id", g.id, "err", err)
		}
	}
	g.settle(batch, remaining, final)
	if g.opt.OnCommit != nil {
		g.opt.OnCommit(g.id, len(batch), wins)
	}
}

// fail settles a claim whose commit failed, after asking the database
// whether it happened anyway.
func (g *gate) fail(ctx context.Context, c *claim, cause error) {
	found, err := g.store.Resolve(ctx, g.id, []int64{c.UserID})
	switch {
	case err != nil:
		g.opt.Log.Error("claim outcome unknown", "activity_id", g.id, "user_id", c.UserID, "commit_err", cause, "resolve_err", err)
		c.err = fmt.Errorf("activity %d, user %d: %w (commit: %w; resolve: %w)", g.id, c.UserID, ErrUnknownOutcome, cause, err)
		// This gate's counts can no longer be trusted: rebuild it from
		// the database on the next request.
		g.forget()
	case found[c.UserID] == c.OrderID:
		c.out = Outcome{Status: Won, OrderID: c.OrderID}
	case hasKey(found, c.UserID):
		c.out = known(found[c.UserID])
	default:
		c.err = errs.Wrap(errs.Unavailable, cause, "the purchase was not recorded; retry")
	}
	g.settle([]*claim{c}, -1, nil)
}

// settle records the outcomes of decided claims, re-syncs the token count
// with the remaining stock the database reported (-1 when unknown), and
// wakes everyone waiting on them.
func (g *gate) settle(batch []*claim, remaining int64, final map[int64]uuid.UUID) {
	g.mu.Lock()
	for _, c := range batch {
		delete(g.inflight, c.UserID)
		if c.token {
			g.held--
		}
		if c.err == nil && (c.out.Won() || c.out.Status == Forfeited) {
			g.winners[c.UserID] = c.out.OrderID // uuid.Nil when forfeited
		}
		if c.err != nil && c.token && remaining < 0 {
			g.tokens++ // not committed: the unit is free again
		}
	}
	if remaining >= 0 {
		g.tokens = max(0, remaining-g.held)
	}
	if final != nil && g.final.Load() == nil {
		// final is published to lock-free readers, so it gets its own map
		// that nobody writes again.
		for u, id := range g.winners {
			if _, ok := final[u]; !ok {
				final[u] = id
			}
		}
		g.final.Store(&final)
	}
	close(g.settled)
	g.settled = make(chan struct{})
	g.mu.Unlock()
	for _, c := range batch {
		close(c.done)
	}
}

func hasKey(m map[int64]uuid.UUID, k int64) bool {
	_, ok := m[k]
	return ok
}
