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
// request within staleAfter (a slow or silent client), else the connection
// open longest among those that have been sending a request body for more
// than bodyGrace (a client trickling its body); when every connection is
// busy with a request, the new one waits for the first to close. An idle
// connection may be closed at any time by the server in HTTP/1.1, so
// well-behaved clients simply open another.
//
// A body trickler is not closed but cut: its read deadline is moved into
// the past, so the handler's read of the body fails and it answers 408
// (see DecodeJSON), and the connection is closed after that answer. A
// request whose body has not all arrived cannot have done anything yet, so
// cutting it loses nothing but the client's time; one that reconnects gets
// a slot only as others are cut in turn, and a newcomer waits behind the
// reconnects queued before it, not behind ReadTimeout. Bodies are watched
// on the wire by the connection's framing scanner, which stamps when a
// body that did not arrive with its headers began.
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
	bodyGrace  time.Duration // 0: body tricklers are never cut
	now        func() time.Time

	mu      sync.Mutex
	open    int
	closing int           // connections closed or cut by Accept that the server has not yet seen go
	idle    connList      // connections between requests, longest idle first (busy ones may linger; see evictable)
	fresh   connList      // accepted, first request not yet started; oldest first
	all     openList      // every open connection, oldest first
	freed   chan struct{} // a connection closed
	done    chan struct{} // the listener closed
	once    sync.Once
}

// limitedConn is a connection accepted by a connLimiter.
type limitedConn struct {
	net.Conn
	since  time.Time       // when it was accepted; set before it is shared
	scan   *framingScanner // its framing scanner, or nil; set before it is shared
	active atomic.Bool     // serving a request

	// Guarded by l.mu.
	list         *connList // the list it is in, or nil
	prev, next   *limitedConn
	aprev, anext *limitedConn // in l.all
	evicted      bool         // closed or cut by Accept to make room
	gone         bool         // the server has seen it close
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

// openList is an intrusive doubly linked list of every open connection,
// through aprev and anext.
type openList struct{ head, tail *limitedConn }

func (q *openList) pushBack(c *limitedConn) {
	c.aprev, c.anext = q.tail, nil
	if q.tail != nil {
		q.tail.anext = c
	} else {
		q.head = c
	}
	q.tail = c
}

func (q *openList) remove(c *limitedConn) {
	if c.aprev != nil {
		c.aprev.anext = c.anext
	} else if q.head == c {
		q.head = c.anext
	}
	if c.anext != nil {
		c.anext.aprev = c.aprev
	} else if q.tail == c {
		q.tail = c.aprev
	}
	c.aprev, c.anext = nil, nil
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
// not counting those it is closing, and closes or cuts one to make room
// when it can.
func (l *connLimiter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	for {
		l.mu.Lock()
		// A connection being closed or cut is as good as gone: waiting
		// for the server to see it go (a trickler's handler must wake
		// and answer) would make each newcomer wait for a goroutine's
		// turn, and a newcomer queued behind hundreds of reconnecting
		// tricklers wait for hundreds of turns. So the server holds up
		// to maxClosing connections over max for a moment.
		if l.open-l.closing < l.max {
			l.open++
			t := &limitedConn{Conn: c, since: l.now()}
			if fc, ok := c.(*framingConn); ok {
				t.scan = &fc.scan
			}
			l.fresh.pushBack(t)
			l.all.pushBack(t)
			l.mu.Unlock()
			return t, nil
		}
		var victim net.Conn
		var cut bool
		if l.closing < maxClosing {
			victim, cut = l.evictable()
		}
		l.mu.Unlock()
		switch {
		case cut:
			// The handler's read of the body fails at once and it answers
			// 408; the slot is freed when the server closes the connection.
			_ = victim.SetReadDeadline(time.Unix(1, 0))
			continue
		case victim != nil:
			// Its slot is freed when the server sees it closed.
			_ = victim.Close()
			continue
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

// maxClosing is how many connections Accept may be closing or cutting at
// once, which is how far over its cap a server may be for a moment.
const maxClosing = 64

// evictable removes and returns the connection to close for a newcomer, or
// nil when none may be closed; cut says it is a body trickler, to be cut
// rather than closed. A connection busy with a request is left in its list
// when the request starts (that is only an atomic store); it is dropped
// from the list here, and joins the idle list again when the request ends.
// l.mu is held.
func (l *connLimiter) evictable() (victim net.Conn, cut bool) {
	for t := l.idle.head; t != nil; t = l.idle.head {
		l.idle.remove(t)
		if !t.active.Load() {
			return l.evict(t), false
		}
	}
	for t := l.fresh.head; t != nil; t = l.fresh.head {
		if t.active.Load() {
			l.fresh.remove(t)
			continue
		}
		if l.now().Sub(t.since) < l.staleAfter {
			break
		}
		l.fresh.remove(t)
		return l.evict(t), false
	}
	if l.bodyGrace <= 0 {
		return nil, false
	}
	// Oldest connection first: a trickler that reconnects goes to the back.
	// Only at the cap, so a slow client is never cut while there is room.
	before := l.now().Add(-l.bodyGrace).UnixNano()
	for t := l.all.head; t != nil; t = t.anext {
		if t.evicted || t.scan == nil {
			continue
		}
		if since := t.scan.bodySince.Load(); since != 0 && since <= before {
			return l.evict(t), true
		}
	}
	return nil, false
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
		evicted := t.evicted
		if !t.gone && !evicted {
			t.unlist()
			l.idle.pushBack(t)
		}
		l.mu.Unlock()
		if evicted {
			// A cut connection whose handler answered without asking to
			// close (one that never read the body): the rest of that body
			// must not be read as a request.
			_ = t.Conn.Close()
		}
	case http.StateClosed, http.StateHijacked:
		l.mu.Lock()
		t.unlist()
		l.all.remove(t)
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
