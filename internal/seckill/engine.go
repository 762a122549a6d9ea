package seckill

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/seckill/seckill/internal/platform/errs"
)

// Options tune an Engine. Zero values take the defaults.
type Options struct {
	// MaxBatch caps how many claims one transaction commits (default 512).
	MaxBatch int
	// CommitTimeout bounds one commit, including its retries, and the
	// loading of a gate (default 10s).
	CommitTimeout time.Duration
	// Now is the clock of the sale window (default time.Now): the gate
	// answers not_started and ended from memory by it, so it must be the
	// clock the Store's Commit decides by (the activity service gives the
	// database's, db.Clock.Now), or an instance whose clock is off would
	// answer otherwise than the database. It is read on every request and
	// must be cheap: no lock, no round trip.
	Now func() time.Time
	// OnCommit is called after every committed transaction with the
	// number of claims it decided and the number of them that won. The
	// relay uses it to wake up; metrics use it to record batch sizes.
	OnCommit func(activityID int64, claims, wins int)
	// Log receives the engine's warnings (default slog.Default()).
	Log *slog.Logger
	// Trace, when set, wraps each group commit: it is given the contexts
	// of the requests whose claims the commit decides, and returns the
	// context to commit in and a function that ends the commit's trace.
	// The activity service starts a span there linked to the purchases'
	// spans, so a purchase's trace shows the transaction that decided it;
	// the engine itself knows no tracer.
	Trace func(ctx context.Context, activityID int64, requests []context.Context) (context.Context, func())
}

// Engine answers purchase requests for any number of activities. It is the
// registry of their gates: it builds each from the Store on first use, once
// however many requests ask at the same time, and drops it when told the
// activity changed.
type Engine struct {
	store Store
	opt   Options
	loads singleflight.Group // one Snapshot per activity at a time

	// gates is read on every request without a lock: it is replaced, never
	// changed, by the holders of mu. A mutex shared by every request was
	// contended across cores on the sold-out path.
	gates atomic.Pointer[gateSet]
	mu    sync.Mutex
	// drops counts the Forget calls, under mu: a load whose snapshot was
	// read while one happened reads it again, so a change announced while
	// the gate was being built is not lost (the announcement found no gate
	// to drop, and the snapshot may predate the change).
	drops uint64
	wg    sync.WaitGroup // committers
}

// gateSet is the registry at one moment.
type gateSet struct {
	byID   map[int64]*gate
	closed bool
}

// with returns a copy of s with id mapped to g, or removed when g is nil.
// e.mu is held.
func (s *gateSet) with(id int64, g *gate) *gateSet {
	n := &gateSet{byID: maps.Clone(s.byID), closed: s.closed}
	if g == nil {
		delete(n.byID, id)
	} else {
		n.byID[id] = g
	}
	return n
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
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	e := &Engine{store: store, opt: opt}
	e.gates.Store(&gateSet{byID: map[int64]*gate{}})
	return e
}

// errClosed is returned once the engine is shutting down.
var errClosed = errs.E(errs.Unavailable, "the service is shutting down; retry")

// Buy decides one purchase request of userID for activityID. The answer for
// a win is returned only after the win is committed.
func (e *Engine) Buy(ctx context.Context, activityID, userID int64) (Outcome, error) {
	for {
		g, err := e.gate(ctx, activityID)
		if err != nil {
			return Outcome{}, err
		}
		o, err := g.buy(ctx, userID)
		if errors.Is(err, errGateClosed) {
			continue // the gate was replaced; ask the new one
		}
		return o, err
	}
}

// gate returns the activity's gate, building it from the store once.
func (e *Engine) gate(ctx context.Context, id int64) (*gate, error) {
	set := e.gates.Load()
	g := set.byID[id]
	switch {
	case set.closed:
		return nil, errClosed
	case g != nil:
		return g, nil
	}
	// The load does not take the caller's context: one caller giving up
	// must not fail the others waiting for the same gate.
	ch := e.loads.DoChan(strconv.FormatInt(id, 10), func() (any, error) { return e.load(id) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*gate), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// load reads the activity's snapshot and registers a gate built from it.
func (e *Engine) load(id int64) (*gate, error) {
	ctx, cancel := context.WithTimeout(context.Background(), e.opt.CommitTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		e.mu.Lock()
		drops := e.drops
		e.mu.Unlock()
		s, err := e.store.Snapshot(ctx, id)
		if err != nil {
			return nil, err
		}
		g, err := e.register(id, s, drops, attempt < maxLoads)
		if g != nil || err != nil {
			return g, err
		}
	}
}

// maxLoads bounds how often a load reads a snapshot again because gates
// were dropped meanwhile; the last one is registered whatever happened, and
// the gate's own checks (a commit outside its window, a missing activity)
// still drop it if it is stale.
const maxLoads = 3

// register registers a gate built from s, unless retry is set and a gate
// was dropped since drops was read: then it returns nil and no error.
func (e *Engine) register(id int64, s Snapshot, drops uint64, retry bool) (*gate, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	set := e.gates.Load()
	if set.closed {
		return nil, errClosed
	}
	if g, ok := set.byID[id]; ok {
		return g, nil // registered by a load that finished just before this one began
	}
	if retry && e.drops != drops {
		return nil, nil
	}
	var g *gate
	g = newGate(s, e.store, e.opt, func() { e.forget(id, g) })
	e.gates.Store(set.with(id, g))
	e.wg.Go(g.commitLoop)
	return g, nil
}

// Forget drops an activity's gate, so that the next request rebuilds it
// from the database. Claims already queued are still committed.
func (e *Engine) Forget(activityID int64) { e.forget(activityID, nil) }

// ForgetAll drops every gate, for when changes may have gone unannounced
// (the activity service's listener lost its connection).
func (e *Engine) ForgetAll() {
	e.mu.Lock()
	set := e.gates.Load()
	if set.closed {
		e.mu.Unlock()
		return
	}
	e.drops++
	e.gates.Store(&gateSet{byID: map[int64]*gate{}})
	e.mu.Unlock()
	for _, g := range set.byID {
		g.close()
	}
}

// forget drops the activity's gate; when only is set, only if that gate is
// still the registered one, so that a stale gate cannot drop its successor.
func (e *Engine) forget(activityID int64, only *gate) {
	e.mu.Lock()
	if only == nil {
		e.drops++
	}
	set := e.gates.Load()
	g := set.byID[activityID]
	if only != nil && g != only {
		g = nil
	}
	if g != nil {
		e.gates.Store(set.with(activityID, nil))
	}
	e.mu.Unlock()
	if g != nil {
		g.close()
	}
}

// Close stops accepting claims, commits the ones queued and waits for the
// committers, or for ctx.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	gates := e.gates.Swap(&gateSet{byID: map[int64]*gate{}, closed: true})
	e.mu.Unlock()
	for _, g := range gates.byID {
		g.close()
	}
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	return wait(ctx, done)
}

func wait(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
