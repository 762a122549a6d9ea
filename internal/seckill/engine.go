package seckill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/seckill/seckill/internal/platform/errs"
)

// Options tune an Engine. Zero values take the defaults.
type Options struct {
	// MaxBatch caps how many claims one transaction commits (default 512).
	MaxBatch int
	// CommitTimeout bounds one commit, including its retries (default 10s).
	CommitTimeout time.Duration
	// Now returns the current time (default time.Now); tests move it.
	Now func() time.Time
	// OnCommit is called after every committed transaction with the
	// number of claims it decided and the number of them that won. The
	// relay uses it to wake up; metrics use it to record batch sizes.
	OnCommit func(activityID int64, claims, wins int)
}

// Engine answers purchase requests for any number of activities.
type Engine struct {
	store Store
	opt   Options

	mu      sync.Mutex
	gates   map[int64]*gate
	loading map[int64]*load
	closed  bool
	wg      sync.WaitGroup // committers
}

type load struct {
	done chan struct{}
	g    *gate
	err  error
}

// New returns an Engine on store.
func New(store Store, opt Options) *Engine {
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 512
	}
	if opt.CommitTimeout <= 0 {
		opt.CommitTimeout = 10 * time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Engine{store: store, opt: opt, gates: map[int64]*gate{}, loading: map[int64]*load{}}
}

// errClosed is returned once the engine is shutting down.
var errClosed = errs.E(errs.Unavailable, "the service is shutting down; retry")

// gate is one activity's admission state.
type gate struct {
	e      *Engine
	id     int64
	start  time.Time
	end    time.Time
	loaded time.Time // when the snapshot was read

	// final, once set, holds every winner of a sold-out activity. It never
	// changes again, so readers need no lock.
	final atomic.Pointer[map[int64]uuid.UUID]

	mu       sync.Mutex
	winners  map[int64]uuid.UUID
	inflight map[int64]*claim
	pending  []*claim
	tokens   int64 // units not yet held by a claim, as far as this process knows
	held     int64 // pending claims holding a token
	settled  chan struct{}
	wake     chan struct{}
	closed   bool
}

type claim struct {
	Claim
	token bool
	done  chan struct{}
	res   Result
	err   error
}

// Buy decides one purchase request of userID for activityID. The answer for
// a win is returned only after the win is committed.
func (e *Engine) Buy(ctx context.Context, activityID, userID int64) (Result, error) {
	for {
		g, err := e.gate(ctx, activityID)
		if err != nil {
			return Result{}, err
		}
		r, err := g.buy(ctx, userID)
		if errors.Is(err, errGateClosed) {
			continue // the gate was replaced; ask the new one
		}
		return r, err
	}
}

var errGateClosed = errors.New("gate closed")

func (g *gate) buy(ctx context.Context, userID int64) (Result, error) {
	now := g.e.opt.Now()
	// The sold-out path: no lock, no allocation, no database.
	if f := g.final.Load(); f != nil {
		if id, ok := (*f)[userID]; ok {
			return Result{Status: AlreadyWon, OrderID: id}, nil
		}
		if !now.Before(g.end) {
			g.refreshIfOld(now)
			return Result{Status: Ended}, nil
		}
		return Result{Status: SoldOut}, nil
	}
	if now.Before(g.start) {
		g.refreshIfOld(now)
		return Result{Status: NotStarted}, nil
	}
	for {
		g.mu.Lock()
		if g.closed {
			g.mu.Unlock()
			return Result{}, errGateClosed
		}
		if id, ok := g.winners[userID]; ok {
			g.mu.Unlock()
			return Result{Status: AlreadyWon, OrderID: id}, nil
		}
		if !now.Before(g.end) {
			g.mu.Unlock()
			g.refreshIfOld(now)
			return Result{Status: Ended}, nil
		}
		if c, ok := g.inflight[userID]; ok {
			// The user's other request is being decided: share its fate.
			g.mu.Unlock()
			if err := wait(ctx, c.done); err != nil {
				return Result{}, err
			}
			if c.err != nil {
				return Result{}, c.err
			}
			if c.res.Status == Won {
				return Result{Status: AlreadyWon, OrderID: c.res.OrderID}, nil
			}
			return c.res, nil
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
				return Result{}, err
			}
			continue
		}
		oid, err := uuid.NewV7()
		if err != nil {
			g.mu.Unlock()
			return Result{}, fmt.Errorf("order id: %w", err)
		}
		c := &claim{Claim: Claim{UserID: userID, OrderID: oid}, done: make(chan struct{})}
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
		select {
		case g.wake <- struct{}{}:
		default:
		}
		if err := wait(ctx, c.done); err != nil {
			// The claim goes on; a retry learns its outcome.
			return Result{}, err
		}
		return c.res, c.err
	}
}

// refreshAfter is how long a gate outside its sale window trusts its copy
// of the window. Another instance may have moved the window (PUT on the
// activity there); re-reading it at most once a second costs the database
// nothing while the sale is on, when the window is not consulted.
const refreshAfter = time.Second

func (g *gate) refreshIfOld(now time.Time) {
	if now.Sub(g.loaded) > refreshAfter {
		g.e.Forget(g.id)
	}
}

func wait(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// gate returns the activity's gate, building it from the store once.
func (e *Engine) gate(ctx context.Context, id int64) (*gate, error) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, errClosed
	}
	if g, ok := e.gates[id]; ok {
		e.mu.Unlock()
		return g, nil
	}
	l, ok := e.loading[id]
	if !ok {
		l = &load{done: make(chan struct{})}
		e.loading[id] = l
		go e.load(id, l)
	}
	e.mu.Unlock()
	if err := wait(ctx, l.done); err != nil {
		return nil, err
	}
	return l.g, l.err
}

func (e *Engine) load(id int64, l *load) {
	defer close(l.done)
	ctx, cancel := context.WithTimeout(context.Background(), e.opt.CommitTimeout)
	defer cancel()
	s, err := e.store.Snapshot(ctx, id)
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.loading, id)
	if err != nil {
		l.err = err
		return
	}
	if e.closed {
		l.err = errClosed
		return
	}
	g := newGate(e, s)
	e.gates[id] = g
	l.g = g
	e.wg.Add(1)
	go g.commitLoop()
}

func newGate(e *Engine, s Snapshot) *gate {
	a := s.Activity
	g := &gate{e: e, id: a.ID, start: a.StartTime, end: a.EndTime, loaded: e.opt.Now(), winners: s.Winners,
		inflight: map[int64]*claim{}, tokens: a.Remaining, settled: make(chan struct{}), wake: make(chan struct{}, 1)}
	if g.winners == nil {
		g.winners = map[int64]uuid.UUID{}
	}
	if a.Remaining == 0 {
		g.final.Store(copyMap(g.winners))
	}
	return g
}

// Forget drops an activity's gate, so that the next request rebuilds it
// from the database. Claims already queued are still committed.
func (e *Engine) Forget(activityID int64) {
	e.mu.Lock()
	g := e.gates[activityID]
	delete(e.gates, activityID)
	e.mu.Unlock()
	if g != nil {
		g.close()
	}
}

func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// Close stops accepting claims, commits the ones queued and waits for the
// committers, or for ctx.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	gates := e.gates
	e.gates = map[int64]*gate{}
	e.mu.Unlock()
	for _, g := range gates {
		g.close()
	}
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	return wait(ctx, done)
}

// commitLoop is the gate's group committer: whatever claims queued while
// the previous transaction ran are committed together by the next one.
func (g *gate) commitLoop() {
	defer g.e.wg.Done()
	for {
		<-g.wake
		for {
			g.mu.Lock()
			n := min(len(g.pending), g.e.opt.MaxBatch)
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
			g.commit(batch)
		}
	}
}

// commit decides a batch and settles its claims.
func (g *gate) commit(batch []*claim) {
	ctx, cancel := context.WithTimeout(context.Background(), g.e.opt.CommitTimeout)
	defer cancel()
	claims := make([]Claim, len(batch))
	for i, c := range batch {
		claims[i] = c.Claim
	}
	outs, remaining, err := g.e.store.Commit(ctx, g.id, claims)
	if err != nil && len(batch) > 1 {
		// One bad claim must not fail the others: decide each alone.
		slog.Warn("group commit failed; retrying its claims one by one", "activity_id", g.id, "claims", len(batch), "err", err)
		for _, c := range batch {
			g.commit([]*claim{c})
		}
		return
	}
	if err != nil {
		g.fail(ctx, batch[0], err)
		return
	}
	wins := 0
	for i, c := range batch {
		c.res = Result{Status: outs[i].Status, OrderID: outs[i].OrderID}
		if c.res.Status == Won {
			wins++
		}
	}
	var final map[int64]uuid.UUID
	if remaining == 0 {
		// Sold out. Other instances may have winners this one never saw:
		// read them all once, so every later answer comes from memory.
		// A failure here only delays the switch to the final map.
		if all, err := g.e.store.Resolve(ctx, g.id, nil); err == nil {
			final = all
		} else {
			slog.Warn("read winners of a sold-out activity", "activity_id", g.id, "err", err)
		}
	}
	g.settle(batch, remaining, final)
	if g.e.opt.OnCommit != nil {
		g.e.opt.OnCommit(g.id, len(batch), wins)
	}
}

// fail settles a claim whose commit failed, after asking the database
// whether it happened anyway.
func (g *gate) fail(ctx context.Context, c *claim, cause error) {
	found, err := g.e.store.Resolve(ctx, g.id, []int64{c.UserID})
	switch {
	case err != nil:
		slog.Error("claim outcome unknown", "activity_id", g.id, "user_id", c.UserID, "commit_err", cause, "resolve_err", err)
		c.err = errs.Wrap(errs.Unavailable, cause, ErrUnknownOutcome.Error())
		// This gate's counts can no longer be trusted: rebuild it from
		// the database on the next request.
		g.e.Forget(g.id)
	case found[c.UserID] == c.OrderID:
		c.res = Result{Status: Won, OrderID: c.OrderID}
	case found[c.UserID] != uuid.Nil:
		c.res = Result{Status: AlreadyWon, OrderID: found[c.UserID]}
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
		if c.err == nil && c.res.Won() {
			g.winners[c.UserID] = c.res.OrderID
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

func copyMap(m map[int64]uuid.UUID) *map[int64]uuid.UUID {
	c := make(map[int64]uuid.UUID, len(m))
	for k, v := range m {
		c[k] = v
	}
	return &c
}
