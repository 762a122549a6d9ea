package httpx

import (
	"net"
	"net/http"
	"testing"
	"time"
)

// chanListener hands out the connections sent on it.
type chanListener struct {
	conns chan net.Conn
	done  chan struct{}
}

func newChanListener() *chanListener {
	return &chanListener{conns: make(chan net.Conn, 16), done: make(chan struct{})}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *chanListener) Close() error   { close(l.done); return nil }
func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{} }

// pipeConn is one end of a net.Pipe that records whether it was closed.
type pipeConn struct {
	net.Conn
	closed chan struct{}
}

func (c *pipeConn) Close() error {
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return c.Conn.Close()
}

func newPipeConn(t *testing.T) *pipeConn {
	a, b := net.Pipe()
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	return &pipeConn{Conn: a, closed: make(chan struct{})}
}

// accept feeds a new connection to l and returns it as the server sees it,
// reported new as net/http does.
func accept(t *testing.T, l *connLimiter, ln *chanListener) (*pipeConn, net.Conn) {
	t.Helper()
	raw := newPipeConn(t)
	ln.conns <- raw
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	l.track(c, http.StateNew)
	return raw, c
}

func isClosed(c *pipeConn) bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// TestConnLimiter_EvictsLongestIdleNeverBusy: at the cap, the connection
// closed for a newcomer is the one idle the longest, and never one that is
// serving a request, even if it was idle earlier than the others.
func TestConnLimiter_EvictsLongestIdleNeverBusy(t *testing.T) {
	ln := newChanListener()
	l := newConnLimiter(ln, 3, time.Hour)
	defer l.Close()
	busyRaw, busy := accept(t, l, ln)
	firstRaw, first := accept(t, l, ln)
	secondRaw, second := accept(t, l, ln)
	for _, c := range []net.Conn{busy, first, second} {
		l.track(c, http.StateActive)
		l.track(c, http.StateIdle)
	}
	l.track(busy, http.StateActive) // idle the longest, but now serving a request

	newRaw := newPipeConn(t)
	ln.conns <- newRaw
	got := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
		}
		got <- c
	}()
	deadline := time.After(5 * time.Second)
	select {
	case <-firstRaw.closed:
	case <-deadline:
		t.Fatal("the longest idle connection was not closed")
	}
	if isClosed(busyRaw) || isClosed(secondRaw) {
		t.Fatalf("closed: busy %v, second %v; want only the longest idle one", isClosed(busyRaw), isClosed(secondRaw))
	}
	l.track(first, http.StateClosed) // the server sees it go
	select {
	case c := <-got:
		if c.(*limitedConn).Conn != newRaw {
			t.Fatal("Accept returned another connection")
		}
	case <-deadline:
		t.Fatal("the newcomer was not accepted once a slot was freed")
	}
	l.mu.Lock()
	open, closing := l.open, l.closing
	l.mu.Unlock()
	if open != 3 || closing != 0 {
		t.Fatalf("open %d closing %d, want 3 and 0", open, closing)
	}
}

// TestConnLimiter_BusyWaitsStaleFreshEvicted: with every connection busy,
// a newcomer waits; a connection that never started a request is closed
// once it is stale, and not before.
func TestConnLimiter_BusyWaitsStaleFreshEvicted(t *testing.T) {
	ln := newChanListener()
	l := newConnLimiter(ln, 2, time.Minute)
	now := time.Now()
	l.now = func() time.Time { return now } // only this goroutine calls it
	defer l.Close()
	busyRaw, busy := accept(t, l, ln)
	silentRaw, _ := accept(t, l, ln)
	l.track(busy, http.StateActive)

	l.mu.Lock()
	victim := l.evictable()
	l.mu.Unlock()
	if victim != nil {
		t.Fatal("a fresh connection was evicted before it went stale")
	}
	now = now.Add(2 * time.Minute)
	l.mu.Lock()
	victim = l.evictable()
	l.mu.Unlock()
	if victim != silentRaw {
		t.Fatalf("evicted %v, want the silent connection", victim)
	}
	if isClosed(busyRaw) {
		t.Fatal("the busy connection was closed")
	}
	l.mu.Lock()
	victim = l.evictable()
	l.mu.Unlock()
	if victim != nil {
		t.Fatal("a busy connection was offered for eviction")
	}
}
