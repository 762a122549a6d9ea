// Package outbox runs the sending side of a transactional outbox: a loop
// that sends batches of what a table holds until the receiver confirms
// them, wakes when told new rows exist, backs off while the receiver fails,
// and flushes once, within a bound, on shutdown. What a batch is, and how a
// confirmed row is marked, is the caller's Send; delivery is at least once,
// so the receiver must be idempotent.
package outbox

import (
	"context"
	"log/slog"
	"time"
)

// Options tune a Loop.
type Options struct {
	// Batch is the most rows one Send handles: a Send that handled this
	// many is called again at once, since more may be waiting.
	Batch int
	// Idle is how long the loop waits between sends when nothing wakes it.
	Idle time.Duration
	// Gather is how long a woken loop waits for more rows before it sends
	// (0: at once), so that a burst goes out in a few large batches
	// instead of one per row.
	Gather time.Duration
	// Hold, when set, is asked before each send how long to wait first
	// (0 or less: not at all). The relay of wins holds back while a sale
	// is in full swing. A shutdown's last flush does not ask.
	Hold func() time.Duration
	// Log receives the warnings of failed sends.
	Log *slog.Logger
}

// Loop is one outbox's sending loop.
type Loop struct {
	name string
	send func(ctx context.Context) (int, error)
	opt  Options
	wake chan struct{}
}

// New returns the loop of the outbox called name (it names the log lines).
// send sends one batch and returns how many rows it handled.
func New(name string, send func(ctx context.Context) (int, error), opt Options) *Loop {
	opt.Batch = max(opt.Batch, 1)
	if opt.Idle <= 0 {
		opt.Idle = time.Second
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	return &Loop{name: name, send: send, opt: opt, wake: make(chan struct{}, 1)}
}

// Notify wakes the loop: new rows may be waiting.
func (l *Loop) Notify() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Backoff bounds: a failing receiver is retried after 100 ms, then twice
// as long each time, up to 10 s.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// flushTimeout bounds the last attempt on shutdown.
const flushTimeout = 3 * time.Second

// Run sends until ctx is cancelled, then makes one last bounded attempt to
// flush what is pending, so a graceful shutdown leaves little behind.
func (l *Loop) Run(ctx context.Context) error {
	backoff := time.Duration(0)
	for {
		if l.opt.Hold != nil && !sleep(ctx, l.opt.Hold()) {
			l.flush()
			return nil
		}
		n, err := l.send(ctx)
		switch {
		case err != nil:
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
			if ctx.Err() == nil {
				l.opt.Log.Warn(l.name+": send failed; will retry", "err", err, "retry_in", backoff)
			}
		case n >= l.opt.Batch:
			backoff = 0
			continue // more may be waiting
		default:
			backoff = 0
		}
		wait := l.opt.Idle
		if backoff > 0 {
			wait = backoff
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			l.flush()
			return nil
		case <-l.wake:
			// While the receiver fails, a wake does not cut the backoff
			// short; otherwise the loop gathers for a moment, if asked to.
			if backoff == 0 && l.opt.Gather > 0 {
				t.Reset(l.opt.Gather)
			}
			if backoff > 0 || l.opt.Gather > 0 {
				select {
				case <-t.C:
				case <-ctx.Done():
					l.flush()
					return nil
				}
			}
		case <-t.C:
		}
		t.Stop()
	}
}

// sleep waits d (nothing when d <= 0) and reports whether ctx is still
// live.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (l *Loop) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	for {
		n, err := l.send(ctx)
		if err != nil || n < l.opt.Batch {
			return
		}
	}
}
