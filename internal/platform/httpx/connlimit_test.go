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
	victim, _ := l.evictable()
	l.mu.Unlock()
	if victim != nil {
		t.Fatal("a fresh connection was evicted before it went stale")
	}
	now = now.Add(2 * time.Minute)
	l.mu.Lock()
	victim, _ = l.evictable()
	l.mu.Unlock()
	if victim != silentRaw {
		t.Fatalf("evicted %v, want the silent connection", victim)
	}
	if isClosed(busyRaw) {
		t.Fatal("the busy connection was closed")
	}
	l.mu.Lock()
	victim, _ = l.evictable()
	l.mu.Unlock()
	if victim != nil {
		t.Fatal("a busy connection was offered for eviction")
	}
}

// TestConnLimiter_CutsOldestBodyTricklerAfterGrace: at the cap, with no
// idle or silent connection, the connection cut is the oldest one whose
// body has been arriving for longer than the grace, never one whose body
// is complete or came recently.
func TestConnLimiter_CutsOldestBodyTricklerAfterGrace(t *testing.T) {
	ln := newChanListener()
	l := newConnLimiter(ln, 3, time.Minute)
	l.bodyGrace = time.Second
	now := time.Now()
	l.now = func() time.Time { return now } // only this goroutine calls it
	defer l.Close()
	var conns []*limitedConn
	for range 3 {
		_, c := accept(t, l, ln)
		lc := c.(*limitedConn)
		lc.scan = new(framingScanner)
		l.track(c, http.StateActive)
		conns = append(conns, lc)
	}
	handling, recent, trickler := conns[0], conns[1], conns[2]
	// handling: body complete, handler running; recent: body began now;
	// trickler: body began 2 s ago.
	recent.scan.bodySince.Store(now.UnixNano())
	trickler.scan.bodySince.Store(now.Add(-2 * time.Second).UnixNano())
	_ = handling

	l.mu.Lock()
	victim, cut := l.evictable()
	l.mu.Unlock()
	if victim != trickler.Conn || !cut {
		t.Fatalf("evicted %v (cut %v), want the trickler cut", victim, cut)
	}
	l.mu.Lock()
	victim, _ = l.evictable()
	l.mu.Unlock()
	if victim != nil {
		t.Fatalf("evicted %v, want none: the trickler is already cut, the other body came recently", victim)
	}
	now = now.Add(2 * time.Second)
	l.mu.Lock()
	victim, cut = l.evictable()
	l.mu.Unlock()
	if victim != recent.Conn || !cut {
		t.Fatalf("evicted %v (cut %v), want the second trickler once past the grace", victim, cut)
	}

	l.bodyGrace = 0
	recent.evicted, trickler.evicted = false, false
	l.mu.Lock()
	victim, _ = l.evictable()
	l.mu.Unlock()
	if victim != nil {
		t.Fatal("a body trickler was cut with the grace off")
	}
}

// TestFramingScanner_BodySince: a body that arrives with its headers is
// never stamped; one still arriving after the read is, until it is
// complete; a chunked body stays stamped.
func TestFramingScanner_BodySince(t *testing.T) {
	var s framingScanner
	s.feed([]byte("POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd"))
	if s.bodySince.Load() != 0 {
		t.Fatal("a body that came with its headers was stamped")
	}
	s.feed([]byte("POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab"))
	if s.bodySince.Load() == 0 {
		t.Fatal("a body still arriving was not stamped")
	}
	s.feed([]byte("c"))
	if s.bodySince.Load() == 0 {
		t.Fatal("the stamp went before the body was complete")
	}
	s.feed([]byte("d"))
	if s.bodySince.Load() != 0 {
		t.Fatal("the stamp stayed after the body was complete")
	}
	s.feed([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"))
	if s.bodySince.Load() == 0 {
		t.Fatal("a chunked body was not stamped")
	}
}
