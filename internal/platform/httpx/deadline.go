package httpx

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// WithRequest gives every request one context carrying its request id (see
// RequestID) and, when d > 0, a deadline d away: a handler waiting on
// something that never answers then fails with a deadline error, which
// maps to 503, instead of holding the connection until WriteTimeout breaks
// it with no answer at all. Serve wraps every service's handler with it.
//
// It is written for the seckill endpoint, where almost every request is
// answered from memory: the id and the deadline share one context and one
// copy of the request, and the deadline costs nothing until something
// waits on it. A timer per request, with its registration in the
// connection's context, was about a twentieth of that endpoint's CPU.
func WithRequest(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := &requestCtx{parent: r.Context(), id: requestID(r)}
		if d > 0 {
			ctx.deadline = time.Now().Add(d)
		}
		defer ctx.stop()
		w.Header()[RequestIDHeader] = []string{ctx.id}
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requestCtx is a request's context: its id, and a deadline enforced by a
// context of context.WithDeadline made the first time Done or Err is
// called. Before that, Deadline still reports the deadline, so code that
// reads it (a driver setting a statement timeout, say) sees it.
type requestCtx struct {
	parent   context.Context
	id       string
	deadline time.Time // zero: none of its own
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

// Value answers the request id, and otherwise from the started context
// once there is one: the context package finds the cancellation of its
// parent through it, and derived contexts are then cancelled without a
// goroutine of their own.
func (c *requestCtx) Value(key any) any {
	if key == requestIDKey {
		return c.id
	}
	if in := c.inner.Load(); in != nil {
		return in.ctx.Value(key)
	}
	return c.parent.Value(key)
}

func (c *requestCtx) String() string { return "httpx.WithRequest(" + c.id + ")" }
