package httpx

import (
	"container/list"
	"net"
	"net/http"
	"sync"
	"time"
)

// connLimiter caps how many connections a server holds open. Without a cap,
// anyone can open idle keep-alive connections until the process runs out of
// file descriptors, and then no one is served. At the cap, a new connection
// is accepted by closing the idle keep-alive connection that has waited
// longest, else a connection that has not finished sending its first
// request within staleAfter (a slow or silent client); when every
// connection is busy with a request, the new one waits for the first to
// close. An idle connection may be closed at any time by the server in
// HTTP/1.1, so well-behaved clients simply open another.
type connLimiter struct {
	net.Listener
	max        int
	staleAfter time.Duration
	now        func() time.Time

	mu      sync.Mutex
	open    int
	closing int        // connections closed by Accept that the server has not yet seen go
	idle    *list.List // of *tracked, longest idle first
	fresh   *list.List // of *tracked, accepted, first request not yet read; oldest first
	conns   map[net.Conn]*tracked
	freed   chan struct{} // a connection closed
	done    chan struct{} // the listener closed
	once    sync.Once
}

type tracked struct {
	conn    net.Conn
	since   time.Time
	in      *list.List // the list elem is in, or nil
	elem    *list.Element
	evicted bool
}

func newConnLimiter(ln net.Listener, max int, staleAfter time.Duration) *connLimiter {
	return &connLimiter{Listener: ln, max: max, staleAfter: staleAfter, now: time.Now, idle: list.New(), fresh: list.New(),
		conns: map[net.Conn]*tracked{}, freed: make(chan struct{}, 1), done: make(chan struct{})}
}

// Accept returns the next connection once the server holds fewer than max,
// closing an idle one to make room when it can.
func (l *connLimiter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	for {
		l.mu.Lock()
		if l.open < l.max {
			l.open++
			l.mu.Unlock()
			return c, nil
		}
		var victim net.Conn
		if l.closing == 0 {
			// One at a time: the slot of a connection closed a moment ago
			// is freed once the server has seen it go.
			victim = l.evictable()
		}
		l.mu.Unlock()
		if victim != nil {
			// Its slot is freed when the server sees it closed.
			_ = victim.Close()
		}
		t := time.NewTimer(l.staleAfter / 4)
		select {
		case <-l.freed:
		case <-t.C: // a fresh connection may have gone stale meanwhile
		case <-l.done:
			t.Stop()
			_ = c.Close()
			return nil, net.ErrClosed
		}
		t.Stop()
	}
}

// evictable removes and returns the connection to close for a newcomer, or
// nil when none may be closed. l.mu is held.
func (l *connLimiter) evictable() net.Conn {
	e := l.idle.Front()
	if e == nil {
		if e = l.fresh.Front(); e == nil || l.now().Sub(e.Value.(*tracked).since) < l.staleAfter {
			return nil
		}
	}
	t := e.Value.(*tracked)
	t.in.Remove(e)
	t.in, t.elem, t.evicted = nil, nil, true
	l.closing++
	return t.conn
}

// Close stops Accept, including one waiting for a free slot.
func (l *connLimiter) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// track is the server's ConnState hook: it keeps the idle and fresh lists
// and frees a slot when a connection is gone.
func (l *connLimiter) track(c net.Conn, s http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.conns[c]
	if t == nil {
		if s != http.StateNew {
			return
		}
		t = &tracked{conn: c}
		l.conns[c] = t
	}
	if t.in != nil {
		t.in.Remove(t.elem)
		t.in, t.elem = nil, nil
	}
	switch s {
	case http.StateNew:
		t.since, t.in = l.now(), l.fresh
		t.elem = l.fresh.PushBack(t)
	case http.StateIdle:
		t.since, t.in = l.now(), l.idle
		t.elem = l.idle.PushBack(t)
	case http.StateClosed, http.StateHijacked:
		delete(l.conns, c)
		l.open--
		if t.evicted {
			l.closing--
		}
		select {
		case l.freed <- struct{}{}:
		default:
		}
	}
}
