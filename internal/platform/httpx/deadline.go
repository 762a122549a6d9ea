package httpx

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
)

// WithRequest gives every request one context carrying its request id (see
// RequestID) and, when d > 0, a deadline d away: a handler waiting on
// something that never answers then fails with a deadline error, which
// maps to 503, instead of holding the connection until WriteTimeout breaks
// it with no answer at all. Serve wraps every service's handler with it.
//
// Before h runs, it refuses a body declared longer than MaxBodyBytes (413,
// before a client that sent "Expect: 100-continue" is told to go on) and
// a request whose framing could smuggle another (see checkFraming).
//
// It is written for the seckill endpoint, where almost every request is
// answered from memory: the id and the deadline share one context and one
// copy of the request, and the deadline costs nothing until something
// waits on it. A timer per request, with its registration in the
// connection's context, was about a twentieth of that endpoint's CPU. When h
// is a chi router, the context also holds a routing context for it, so the
// router finds one and serves the request as it is instead of copying it
// into a context of its own (two allocations and a request copy). Routing
// contexts are pooled, as chi pools its own, and returned when the request
// is served.
func WithRequest(h http.Handler, d time.Duration) http.Handler {
	routes, _ := h.(chi.Routes)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := &requestCtx{parent: r.Context(), id: requestID(r)}
		if routes != nil {
			ctx.route = routeCtxPool.Get().(*chi.Context)
			ctx.route.Reset()
			ctx.route.Routes = routes
			defer routeCtxPool.Put(ctx.route)
		}
		if d > 0 {
			ctx.deadline = time.Now().Add(d)
		}
		defer ctx.stop()
		w.Header()[RequestIDHeader] = []string{ctx.id}
		r = r.WithContext(ctx)
		if r.ContentLength > MaxBodyBytes || r.TransferEncoding != nil || r.ProtoMajor == 1 && r.ProtoMinor == 0 {
			// Rare requests, so the common one pays three comparisons.
			if !admitBody(w, r) {
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

var routeCtxPool = sync.Pool{New: func() any { return chi.NewRouteContext() }}

// requestCtx is a request's context: its id, the routing context of the
// router it was made for, and a deadline enforced by a context of
// context.WithDeadline made the first time Done or Err is called. Before
// that, Deadline still reports the deadline, so code that reads it (a
// driver setting a statement timeout, say) sees it.
type requestCtx struct {
	parent   context.Context
	id       string
	route    *chi.Context // nil unless made for a chi router
	deadline time.Time    // zero: none of its own
	once     sync.Once
	inner    atomic.Pointer[deadlineCtx]
}

type deadlineCtx struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func (c *requestCtx) start() context.Context {
	if c.deadline.IsZero() {
		return c.parent
	}
	c.once.Do(func() {
		ctx, cancel := context.WithDeadline(c.parent, c.deadline)
		c.inner.Store(&deadlineCtx{ctx: ctx, cancel: cancel})
	})
	return c.inner.Load().ctx
}

// stop releases the timer, if one was started.
func (c *requestCtx) stop() {
	if in := c.inner.Load(); in != nil {
		in.cancel()
	}
}

// Deadline returns the earlier of the parent's deadline and this one.
func (c *requestCtx) Deadline() (time.Time, bool) {
	d, ok := c.parent.Deadline()
	if c.deadline.IsZero() || ok && d.Before(c.deadline) {
		return d, ok
	}
	return c.deadline, true
}

// Done starts the deadline's timer.
func (c *requestCtx) Done() <-chan struct{} { return c.start().Done() }

// Err starts the deadline's timer too, so that Err and Done always agree.
func (c *requestCtx) Err() error { return c.start().Err() }

// Value answers the request id (as c itself, which RequestIDFrom reads:
// a string would be boxed anew on every call) and the routing context, and
// otherwise from the started context once there is one: the context
// package finds the cancellation of its parent through it, and derived
// contexts are then cancelled without a goroutine of their own.
func (c *requestCtx) Value(key any) any {
	switch key {
	case requestIDKey:
		return c
	case chi.RouteCtxKey:
		if c.route != nil {
			return c.route
		}
	}
	if in := c.inner.Load(); in != nil {
		return in.ctx.Value(key)
	}
	return c.parent.Value(key)
}

func (c *requestCtx) String() string { return "httpx.WithRequest(" + c.id + ")" }
