package httpx

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
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
//
// The server reports every request's start and end to track, so those two
// are kept cheap: the connection it reports is the limiter's own wrapper,
// found without a lookup; a request's start is one atomic store; its end
// moves the connection to the back of the idle list under the lock, with
// no allocation and no clock reading. A map, a list element and a clock
// reading per state change were about a twentieth of the seckill
// endpoint's CPU.
type connLimiter struct {
	net.Listener
	max        int
	staleAfter time.Duration
	now        func() time.Time

	mu      sync.Mutex
	open    int
	closing int           // connections closed by Accept that the server has not yet seen go
	idle    connList      // connections between requests, longest idle first (busy ones may linger; see evictable)
	fresh   connList      // accepted, first request not yet started; oldest first
	freed   chan struct{} // a connection closed
	done    chan struct{} // the listener closed
	once    sync.Once
}

// limitedConn is a connection accepted by a connLimiter.
type limitedConn struct {
	net.Conn
	since  time.Time   // when it was accepted; set before it is shared
	active atomic.Bool // serving a request

	// Guarded by l.mu.
	list       *connList // the list it is in, or nil
	prev, next *limitedConn
	evicted    bool // closed by Accept to make room
	gone       bool // the server has seen it close
}

// CloseWrite lets the server half-close a TCP connection before closing
// it, as it does for a bare *net.TCPConn, so a client still reads an error
// answer sent just before the close.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// connList is an intrusive doubly linked list of connections.
type connList struct{ head, tail *limitedConn }

func (q *connList) pushBack(c *limitedConn) {
	c.list, c.prev, c.next = q, q.tail, nil
	if q.tail != nil {
		q.tail.next = c
	} else {
		q.head = c
	}
	q.tail = c
}

func (q *connList) remove(c *limitedConn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		q.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		q.tail = c.prev
	}
	c.list, c.prev, c.next = nil, nil, nil
}

// unlist removes c from whichever list holds it. l.mu is held.
func (c *limitedConn) unlist() {
	if c.list != nil {
		c.list.remove(c)
	}
}

func newConnLimiter(ln net.Listener, max int, staleAfter time.Duration) *connLimiter {
	return &connLimiter{Listener: ln, max: max, staleAfter: staleAfter, now: time.Now,
		freed: make(chan struct{}, 1), done: make(chan struct{})}
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
			t := &limitedConn{Conn: c, since: l.now()}
			l.fresh.pushBack(t)
			l.mu.Unlock()
			return t, nil
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
// nil when none may be closed. A connection busy with a request is left in
// its list when the request starts (that is only an atomic store); it is
// dropped from the list here, and joins the idle list again when the
// request ends. l.mu is held.
func (l *connLimiter) evictable() net.Conn {
	for t := l.idle.head; t != nil; t = l.idle.head {
		l.idle.remove(t)
		if !t.active.Load() {
			return l.evict(t)
		}
	}
	for t := l.fresh.head; t != nil; t = l.fresh.head {
		if t.active.Load() {
			l.fresh.remove(t)
			continue
		}
		if l.now().Sub(t.since) < l.staleAfter {
			return nil
		}
		l.fresh.remove(t)
		return l.evict(t)
	}
	return nil
}

func (l *connLimiter) evict(t *limitedConn) net.Conn {
	t.evicted = true
	l.closing++
	return t.Conn
}

// Close stops Accept, including one waiting for a free slot.
func (l *connLimiter) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// track is the server's ConnState hook: it keeps the idle list and frees a
// slot when a connection is gone.
func (l *connLimiter) track(c net.Conn, s http.ConnState) {
	t, ok := c.(*limitedConn)
	if !ok {
		return
	}
	switch s {
	case http.StateActive:
		t.active.Store(true)
	case http.StateIdle:
		l.mu.Lock()
		t.active.Store(false)
		if !t.gone && !t.evicted {
			t.unlist()
			l.idle.pushBack(t)
		}
		l.mu.Unlock()
	case http.StateClosed, http.StateHijacked:
		l.mu.Lock()
		t.unlist()
		if !t.gone {
			t.gone = true
			l.open--
			if t.evicted {
				l.closing--
			}
		}
		l.mu.Unlock()
		select {
		case l.freed <- struct{}{}:
		default:
		}
	}
}
