package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
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
	resp, err := http.ReadResponse(p.br, nil)
	if err != nil {
		return 0, false, err
	}
	out.Reset()
	_, err = out.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, false, err
	}
	return resp.StatusCode, !resp.Close, nil
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
