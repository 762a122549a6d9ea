package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"
)

// A load client must cost little next to what it measures: on a 2-core
// machine it shares the CPU with the servers. net/http's Transport spends two
// goroutine hand-offs, a request clone and several maps on every call, which
// is as much as a small handler costs the server; the crowd therefore speaks
// HTTP/1.1 itself, one request at a time on each keep-alive connection,
// writing the request from a reused buffer and reading the answer with
// http.ReadResponse. The ceiling and the real stack are loaded by this same
// code, so the ratio between them stays fair.

// defaultTimeout bounds one request, from writing it to reading its body,
// when the crowd names no bound of its own.
const defaultTimeout = 30 * time.Second

// poster POSTs JSON bodies to one URL over one keep-alive connection,
// reconnecting after an error or when the server closes the connection.
// It is not safe for concurrent use: each worker of Drive has its own.
type poster struct {
	ctx     context.Context
	timeout time.Duration
	addr    string // host:port to dial
	head    []byte // the request up to the Content-Length value
	conn    net.Conn
	br      *bufio.Reader
	buf     []byte
	stop    func() bool // unhooks the connection from ctx
}

// newPoster prepares requests to rawURL, an http:// URL.
func newPoster(ctx context.Context, rawURL string) (*poster, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("load URL %q: want http://host:port/path", rawURL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	head := fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: seckill-bench\r\nContent-Type: application/json\r\nContent-Length: ",
		u.RequestURI(), u.Host)
	return &poster{ctx: ctx, timeout: defaultTimeout, addr: addr, head: head}, nil
}

// post sends body and reads the answer's body into out. It returns the
// answer's HTTP status.
func (p *poster) post(body []byte, out *bytes.Buffer) (int, error) {
	if p.conn == nil {
		if err := p.dial(); err != nil {
			return 0, err
		}
	}
	code, keep, err := p.roundTrip(body, out)
	if err != nil || !keep {
		p.close()
	}
	return code, err
}

func (p *poster) roundTrip(body []byte, out *bytes.Buffer) (code int, keep bool, err error) {
	if err := p.conn.SetDeadline(time.Now().Add(p.timeout)); err != nil {
		return 0, false, err
	}
	p.buf = append(p.buf[:0], p.head...)
	p.buf = strconv.AppendInt(p.buf, int64(len(body)), 10)
	p.buf = append(p.buf, "\r\n\r\n"...)
	p.buf = append(p.buf, body...)
	if _, err := p.conn.Write(p.buf); err != nil {
		return 0, false, err
	}
	return readResponse(p.br, out)
}

// readResponse reads one HTTP/1.x answer from br: its status, whether the
// connection may carry another request, and its body into out. It reads
// the status line and the three headers that frame the body (Content-Length,
// Transfer-Encoding, Connection) in place, without the maps and copies of
// http.ReadResponse, which cost the client about as much as a small
// handler costs the server.
func readResponse(br *bufio.Reader, out *bytes.Buffer) (code int, keep bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, fmt.Errorf("malformed status line %q", line)
	}
	code, err = strconv.Atoi(string(line[9:12]))
	if err != nil || code < 100 {
		return 0, false, fmt.Errorf("malformed status line %q", line)
	}
	keep = line[7] == '1' // HTTP/1.1 keeps the connection unless told otherwise
	length, chunked := int64(-1), false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, fmt.Errorf("malformed header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return 0, false, fmt.Errorf("malformed Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			switch v := bytes.ToLower(value); {
			case bytes.Contains(v, []byte("close")):
				keep = false
			case bytes.Contains(v, []byte("keep-alive")):
				keep = true
			}
		}
	}
	out.Reset()
	switch {
	case code < 200 || code == http.StatusNoContent || code == http.StatusNotModified:
		// No body.
	case chunked:
		if _, err = out.ReadFrom(httputil.NewChunkedReader(br)); err == nil {
			err = skipTrailer(br)
		}
	case length >= 0:
		_, err = io.CopyN(out, br, length)
	default:
		// The body ends with the connection.
		keep = false
		_, err = out.ReadFrom(br)
	}
	if err != nil {
		return 0, false, err
	}
	return code, keep, nil
}

// skipTrailer reads the trailer section that ends a chunked body, up to
// and including its empty line.
func skipTrailer(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return nil
		}
	}
}

func (p *poster) dial() error {
	if err := p.ctx.Err(); err != nil {
		return err
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.DialContext(p.ctx, "tcp", p.addr)
	if err != nil {
		return err
	}
	p.conn = c
	p.br = bufio.NewReaderSize(c, 4096)
	// A cancelled run must not wait out a request's timeout.
	p.stop = context.AfterFunc(p.ctx, func() { _ = c.SetDeadline(time.Now()) })
	return nil
}

func (p *poster) close() {
	if p.conn == nil {
		return
	}
	p.stop()
	_ = p.conn.Close()
	p.conn, p.br = nil, nil
}
