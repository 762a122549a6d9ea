package outbox

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// table is an outbox whose rows a test adds and whose receiver may fail.
type table struct {
	mu      sync.Mutex
	pending int
	sent    []int // the size of every batch sent
	fail    bool
	calls   int
}

func (tb *table) add(n int) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.pending += n
}

func (tb *table) setFail(f bool) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.fail = f
}

func (tb *table) send(batch int) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		tb.calls++
		if tb.fail {
			return 0, errors.New("receiver down")
		}
		n := min(tb.pending, batch)
		tb.pending -= n
		if n > 0 {
			tb.sent = append(tb.sent, n)
		}
		return n, nil
	}
}

func (tb *table) state() (pending, calls int, sent []int) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.pending, tb.calls, append([]int(nil), tb.sent...)
}

func waitFor(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(time.Millisecond) // polling interval of a deadline-bounded wait
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestLoop_WakeSendsEverythingInFullBatches(t *testing.T) {
	tb := &table{}
	l := New("test", tb.send(10), Options{Batch: 10, Idle: time.Hour, Log: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	tb.add(25)
	l.Notify()
	// The idle interval is an hour: only the wake can have sent them, and
	// a full batch is followed by another at once.
	waitFor(t, 5*time.Second, func() bool { p, _, _ := tb.state(); return p == 0 })
	if _, _, sent := tb.state(); len(sent) != 3 || sent[0] != 10 || sent[1] != 10 || sent[2] != 5 {
		t.Errorf("batches %v, want [10 10 5]", sent)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

func TestLoop_GatherWaitsForMoreBeforeSending(t *testing.T) {
	tb := &table{}
	l := New("test", tb.send(100), Options{Batch: 100, Idle: time.Hour, Gather: 200 * time.Millisecond, Log: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = l.Run(ctx) }()
	waitFor(t, 5*time.Second, func() bool { _, c, _ := tb.state(); return c == 1 }) // the first, empty, send
	tb.add(1)
	l.Notify()
	tb.add(1) // arrives within the gathering time
	waitFor(t, 5*time.Second, func() bool { p, _, _ := tb.state(); return p == 0 })
	if _, _, sent := tb.state(); len(sent) != 1 || sent[0] != 2 {
		t.Errorf("batches %v, want one of 2", sent)
	}
}

func TestLoop_BacksOffWhileTheReceiverFailsAndRecovers(t *testing.T) {
	tb := &table{fail: true}
	l := New("test", tb.send(10), Options{Batch: 10, Idle: time.Hour, Log: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = l.Run(ctx) }()
	tb.add(3)
	// Wakes while it fails do not cut the backoff short: in 250 ms the
	// loop tries at most at 0, 100 and 300 ms.
	start := time.Now()
	for time.Since(start) < 250*time.Millisecond {
		l.Notify()
		time.Sleep(5 * time.Millisecond) // the pace of the wake-ups under test
	}
	if _, calls, _ := tb.state(); calls > 3 {
		t.Errorf("%d sends in 250 ms while failing, want at most 3", calls)
	}
	tb.setFail(false)
	waitFor(t, 5*time.Second, func() bool { p, _, _ := tb.state(); return p == 0 })
}

func TestLoop_FlushesOnShutdown(t *testing.T) {
	tb := &table{}
	l := New("test", tb.send(10), Options{Batch: 10, Idle: time.Hour, Log: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	waitFor(t, 5*time.Second, func() bool { _, c, _ := tb.state(); return c == 1 })
	tb.add(15) // nobody wakes the loop: only the shutdown's flush sends them
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	if p, _, _ := tb.state(); p != 0 {
		t.Errorf("%d rows left after the flush, want 0", p)
	}
}

// While Hold asks to wait, nothing is sent; when it stops asking, the
// loop sends at once; a shutdown flushes without asking.
func TestLoop_HoldDefersSendsAndShutdownIgnoresIt(t *testing.T) {
	tb := &table{}
	var holding sync.Mutex
	holdFor := 20 * time.Millisecond
	l := New("test", tb.send(10), Options{Batch: 10, Idle: time.Hour, Log: quiet, Hold: func() time.Duration {
		holding.Lock()
		defer holding.Unlock()
		return holdFor
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	tb.add(25)
	for range 10 {
		l.Notify()
		time.Sleep(10 * time.Millisecond) // the pace of the wake-ups under test
	}
	// Each send waits 20 ms first: in about 100 ms, at most 6 sends.
	if _, calls, _ := tb.state(); calls > 6 {
		t.Errorf("%d sends in about 100 ms of 20 ms holds, want at most 6", calls)
	}
	waitFor(t, 5*time.Second, func() bool { p, _, _ := tb.state(); return p == 0 }) // held sends still go
	holding.Lock()
	holdFor = time.Hour
	holding.Unlock()
	tb.add(15)
	l.Notify() // the loop now waits an hour before sending
	cancel()   // the wait ends with the context, and the flush does not ask Hold
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	if p, _, _ := tb.state(); p != 0 {
		t.Errorf("%d rows left after the flush, want 0", p)
	}
}
