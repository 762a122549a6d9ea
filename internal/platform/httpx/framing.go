package httpx

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/seckill/seckill/internal/platform/errs"
)

// Request smuggling (RFC 9112, 6.1 and 11.2): a request carrying both
// Content-Length and Transfer-Encoding is framed by a proxy that trusts the
// length differently from the server, which reads it as chunked; the bytes
// the proxy thought were body then run here as a second request. Go's
// server reads such a request as chunked and keeps the connection open,
// and it deletes both headers while parsing, so no handler can tell the
// request from a plain chunked one: r.Header has neither, r.ContentLength
// is -1 and r.TransferEncoding is ["chunked"] either way.
//
// The one place the Content-Length still shows is the bytes on the wire,
// so each connection reads through a framingConn, which follows the header
// blocks of its requests and records what the first one with a
// Transfer-Encoding held. It follows only header lines and Content-Length
// bodies, never a chunked body: a request with a Transfer-Encoding is
// always the last one served on its connection. Go closes the connection
// after any Transfer-Encoding but a lone "chunked" (501), and WithRequest
// closes it after every chunked request and refuses the smuggling ones
// with 400, so nothing after a chunked body is ever read as a request. A
// plain chunked upload then costs its connection's keep-alive; JSON API
// clients send Content-Length, and not having to follow chunked framing is
// what keeps this scanner small enough to trust.

// framing is what a connection's scanner has seen.
type framing uint32

const (
	// framingPlain: no header block with a Transfer-Encoding so far.
	framingPlain framing = iota
	// framingChunked: the first header block with a Transfer-Encoding had
	// no Content-Length.
	framingChunked
	// framingBoth: the first header block with a Transfer-Encoding had a
	// Content-Length too.
	framingBoth
	// framingLost: a Content-Length the scanner could not read (Go rejects
	// nearly all of these itself, and closes), so where later requests
	// begin is unknown.
	framingLost
)

// scanner states.
const (
	scanStart     uint8 = iota // before a request line; skipping CR and LF as Go does after a POST
	scanFirstLine              // in the request line
	scanLine                   // in a header line
	scanBody                   // in a Content-Length body
	scanDone                   // stopped: the verdict is final
)

// lineMax is how much of a header line the scanner keeps: enough for
// "Content-Length:", any length a body has and some white space.
const lineMax = 64

// framingScanner follows the framing of a connection's requests. It is fed
// every byte the server reads, in order, from one goroutine at a time.
type framingScanner struct {
	state   uint8
	line    [lineMax]byte
	n       int  // bytes of the current header line; more than lineMax when too long to keep
	skip    bool // the current line can be neither header of interest
	te, cl  bool // the current header block has a Transfer-Encoding, a Content-Length
	length  int64
	remain  int64 // body bytes still to come
	pending bool  // a body began in the bytes being fed; feed stamps bodySince if it does not end there too
	// verdict is read by request goroutines while the connection's reader
	// may be scanning the next request.
	verdict atomic.Uint32
	// bodySince is when the body now arriving began (Unix nanoseconds),
	// or 0 between bodies; the connection limiter reads it to find a
	// client that trickles its body (see connLimiter.evictable). A chunked
	// body, which the scanner does not follow, counts as arriving until
	// the connection closes. It costs a clock reading per request that
	// has a body the first read did not hold whole.
	bodySince atomic.Int64
}

// feed scans the next bytes read from the connection.
func (s *framingScanner) feed(p []byte) {
	s.scan(p)
	if s.pending {
		// Only a body still arriving after this read is stamped: the
		// small bodies that come with their headers cost no clock reading.
		s.pending = false
		if s.state == scanBody && s.bodySince.Load() == 0 {
			s.bodySince.Store(time.Now().UnixNano())
		}
	}
}

func (s *framingScanner) scan(p []byte) {
	for len(p) > 0 {
		switch s.state {
		case scanDone:
			return
		case scanBody:
			k := int64(len(p))
			if k > s.remain {
				k = s.remain
			}
			s.remain -= k
			p = p[k:]
			if s.remain == 0 {
				s.state = scanStart
				if s.bodySince.Load() != 0 {
					s.bodySince.Store(0)
				}
			}
		case scanStart:
			if p[0] == '\r' || p[0] == '\n' {
				p = p[1:]
				continue
			}
			s.state, s.te, s.cl, s.length = scanFirstLine, false, false, 0
		case scanFirstLine:
			// The request line is of no interest: Go rejects one that is
			// not a request line, and the version does not matter here
			// (see checkFraming for HTTP/1.0).
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				return
			}
			p = p[i+1:]
			s.state, s.n, s.skip = scanLine, 0, false
		case scanLine:
			i := bytes.IndexByte(p, '\n')
			end := i
			if i < 0 {
				end = len(p)
			}
			if s.n == 0 && end > 0 {
				// Only two names matter; every other line is passed over
				// without a copy. A line that is only CR may be the blank
				// line that ends the block.
				c := p[0]
				s.skip = c != '\r' && c|0x20 != 'c' && c|0x20 != 't'
			}
			if !s.skip && s.n < lineMax {
				copy(s.line[s.n:], p[:end])
			}
			s.n += end
			if i < 0 {
				return
			}
			p = p[i+1:]
			s.endLine()
		}
	}
}

var (
	contentLength    = []byte("content-length:")
	transferEncoding = []byte("transfer-encoding:")
)

// endLine handles the header line just ended. A line that begins with
// white space continues the one before (obsolete folding, which Go still
// joins); it can begin neither header.
func (s *framingScanner) endLine() {
	line := bytes.TrimSuffix(s.line[:min(s.n, lineMax)], []byte{'\r'})
	skip, truncated := s.skip, s.n > lineMax
	s.n, s.skip = 0, false
	switch {
	case skip:
	case len(line) == 0:
		s.endHeaders()
	case hasPrefixFold(line, transferEncoding):
		s.te = true
	case hasPrefixFold(line, contentLength):
		n, ok := parseLength(line[len(contentLength):], truncated)
		if !ok || s.cl && n != s.length {
			s.stop(framingLost)
			return
		}
		s.cl, s.length = true, n
	}
}

// endHeaders handles the blank line that ends a header block.
func (s *framingScanner) endHeaders() {
	switch {
	case s.te && s.cl:
		s.stop(framingBoth)
	case s.te:
		s.stop(framingChunked)
	case s.length > 0:
		s.state, s.remain = scanBody, s.length
		s.pending = true
	default:
		s.state = scanStart
	}
}

func (s *framingScanner) stop(v framing) {
	s.state = scanDone
	s.verdict.Store(uint32(v))
	if v == framingChunked {
		s.bodySince.Store(time.Now().UnixNano())
	}
}

// hasPrefixFold reports whether b begins with prefix, which is lower case,
// without regard to ASCII case.
func hasPrefixFold(b, prefix []byte) bool {
	if len(b) < len(prefix) {
		return false
	}
	for i, c := range prefix {
		d := b[i]
		if 'a' <= c && c <= 'z' {
			d |= 0x20 // either case of a letter; no other byte ORs into one
		}
		if d != c {
			return false
		}
	}
	return true
}

// parseLength parses a Content-Length value as Go does: digits only, white
// space around them. truncated says the line was longer than the scanner
// keeps, so the value is not all there.
func parseLength(v []byte, truncated bool) (int64, bool) {
	v = bytes.Trim(v, " \t")
	if truncated || len(v) == 0 || len(v) > 18 {
		// 18 digits cannot overflow an int64. Go takes up to 2^63-1 and
		// leading zeros; such a length is treated as unreadable, which
		// only ever refuses a later chunked request on the connection.
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// framingConn is a connection whose reads go through a framingScanner.
type framingConn struct {
	net.Conn
	scan framingScanner
}

// Read reads from the connection and scans what it read. The server reads
// a connection from one goroutine at a time.
func (c *framingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.scan.feed(p[:n])
	}
	return n, err
}

// CloseWrite lets the server half-close the connection before closing it,
// as it does for a bare *net.TCPConn, so the client reads a 400 sent just
// before the close instead of a reset.
func (c *framingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// framingListener wraps each accepted connection in a framingConn.
type framingListener struct{ net.Listener }

func (l framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framingConn{Conn: c}, nil
}

type framingKey struct{}

// withFramingConn is the server's ConnContext: it stores the connection's
// scanner, found through the connection limiter's wrapper if there is one.
func withFramingConn(ctx context.Context, c net.Conn) context.Context {
	if lc, ok := c.(*limitedConn); ok {
		c = lc.Conn
	}
	if fc, ok := c.(*framingConn); ok {
		return context.WithValue(ctx, framingKey{}, &fc.scan)
	}
	return ctx
}

// checkFraming decides, before the handler runs, whether a request whose
// framing needs a look may be served. It answers the request itself and
// returns false when it may not. Only requests with a chunked body or of
// HTTP/1.0 get here, so the common request pays two field comparisons.
//
// A chunked request is served, with the connection closed after it, when
// its header block had no Content-Length; otherwise, or when the scanner
// lost track, it is refused with 400 and the connection closed. An
// HTTP/1.0 request on a connection that has carried a Transfer-Encoding is
// refused too: Go ignores Transfer-Encoding in HTTP/1.0 and frames by
// Content-Length or no body at all, so the chunked body would run as
// requests (RFC 9112, 6.1: such framing is faulty and the connection must
// close). A server not started by Serve has no scanner, and its requests
// pass.
func checkFraming(w http.ResponseWriter, r *http.Request) bool {
	s, _ := r.Context().Value(framingKey{}).(*framingScanner)
	if s == nil {
		return true
	}
	v := framing(s.verdict.Load())
	var msg string
	switch {
	case r.TransferEncoding == nil && v == framingPlain:
		return true // HTTP/1.0 and nothing wrong
	case r.TransferEncoding != nil && v == framingChunked:
		w.Header()["Connection"] = []string{"close"}
		return true
	case v == framingBoth:
		msg = "a request must not carry both Content-Length and Transfer-Encoding (RFC 9112, 6.1)"
	case r.TransferEncoding == nil && v == framingChunked:
		msg = "Transfer-Encoding is not allowed in HTTP/1.0 (RFC 9112, 6.1)"
	default:
		msg = "the request's framing could not be checked; send Content-Length without Transfer-Encoding"
	}
	Logger(r.Context()).WarnContext(r.Context(), "request refused for its framing", "method", r.Method, "path", r.URL.Path,
		"remote_addr", r.RemoteAddr, "request_id", RequestIDFrom(r.Context()), "reason", msg)
	w.Header()["Connection"] = []string{"close"}
	Error(w, r, errs.E(errs.Invalid, "%s", msg))
	return false
}

// admitBody refuses a body declared over MaxBodyBytes, then checks the
// framing of chunked and HTTP/1.0 requests. Refusing by the declared
// length, before anything reads the body, matters for a client that sent
// "Expect: 100-continue": Go sends "100 Continue" on the body's first
// read, so the client would upload the whole body only to be told 413. No
// endpoint accepts such a body, so the answer is the same everywhere.
func admitBody(w http.ResponseWriter, r *http.Request) bool {
	if r.ContentLength > MaxBodyBytes {
		Error(w, r, errs.E(errs.TooLarge, "request body is larger than %d bytes", MaxBodyBytes))
		return false
	}
	return checkFraming(w, r)
}
