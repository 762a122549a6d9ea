package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/seckill/seckill/internal/platform/errs"
)

// ServerConfig holds the timeouts of an HTTP server.
type ServerConfig struct {
	Addr              string
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	// Drain is how long the server goes on serving once its context is
	// cancelled, reporting Draining, before it stops accepting: the time a
	// load balancer needs to see the instance's readiness check fail and
	// send its traffic elsewhere. 0 stops accepting at once.
	Drain time.Duration
	// ShutdownTimeout is how long, once the server stops accepting, it
	// waits for the requests in flight.
	ShutdownTimeout time.Duration
	// HandlerTimeout is the deadline of every request's context: a
	// database or peer that stops answering turns into a 503 before
	// WriteTimeout cuts the connection. 0 turns it off.
	HandlerTimeout time.Duration
	// MaxConns caps the open connections; at the cap the longest idle
	// keep-alive connection is closed to admit a new one, else a silent
	// one, else a body trickler is cut (see BodyGrace). 0 turns the cap
	// off.
	MaxConns int
	// BodyGrace is how long, at the connection cap, a request's body may
	// take to arrive before its connection may be cut (408) to admit a new
	// one, when no idle or silent connection can go instead. It never cuts
	// below the cap. 0 turns it off: tricklers then hold their slots until
	// ReadTimeout.
	BodyGrace time.Duration
}

// DefaultMaxConns is the default cap on a server's open connections: far
// below the file limit a Linux process gets (Go raises the soft limit to the
// hard one, often 2^20, but 1024 is common too), so the database pool,
// peers and logs keep their descriptors, and low enough that the buffers
// and goroutines of that many idle connections stay well under 256 MB.
func DefaultMaxConns() int {
	const want = 4096
	if lim := fileLimit(); lim > 0 && lim < 2*want {
		// Half of a small limit, and never below a workable minimum.
		return max(64, int(lim/2))
	}
	return want
}

// DefaultServerConfig returns timeouts that suit a JSON API: slow clients
// cannot hold a connection open, and shutdown waits a bounded time.
func DefaultServerConfig(addr string) ServerConfig {
	return ServerConfig{
		Addr:              addr,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		// Idle keep-alive connections cost a descriptor and memory each;
		// half a minute is long enough for a client between requests.
		IdleTimeout:     30 * time.Second,
		ShutdownTimeout: 15 * time.Second,
		MaxHeaderBytes:  64 << 10,
		HandlerTimeout:  10 * time.Second,
		MaxConns:        DefaultMaxConns(),
		// Long enough for a phone to send a small JSON body a round trip
		// after its headers. Tricklers admitted together come of age
		// together, and a newcomer can wait up to the grace for the next
		// batch, so it must be well under a second.
		BodyGrace: 500 * time.Millisecond,
	}
}

// Serve listens on c.Addr and serves h until ctx is cancelled. Then, for
// c.Drain, it goes on serving every request while Draining reports true for
// the requests' contexts and every response asks its client to close the
// connection; then it stops accepting connections and waits up to
// c.ShutdownTimeout for in-flight requests. So Serve returns at most
// c.Drain + c.ShutdownTimeout after ctx is cancelled. ready, when not nil,
// is called with the bound address once the listener is open, which lets
// callers and tests use port 0. log receives the server's own messages and
// is every request's Logger.
func Serve(ctx context.Context, log *slog.Logger, c ServerConfig, h http.Handler, ready func(addr string)) error {
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	h = WithRequest(h, c.HandlerTimeout)
	draining := new(atomic.Bool)
	if c.Drain > 0 {
		// Only a server that drains pays for the check on every request.
		h = closeWhileDraining(h, draining)
	}
	base := context.WithValue(WithLogger(context.WithoutCancel(ctx), log), drainingKey{}, draining)
	// Every connection reads through a framing scanner, which WithRequest
	// asks about chunked and HTTP/1.0 requests; see framing.go.
	ln = framingListener{ln}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    c.MaxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ConnContext:       withFramingConn,
		// Go answers "OPTIONS *" itself, without the handler, and keeps
		// the connection: a smuggled request could hide behind one. The
		// router answers it instead (404), after WithRequest's checks.
		DisableGeneralOptionsHandler: true,
	}
	if c.MaxConns > 0 {
		// A client sends its first request as soon as it has connected;
		// one that has not after half a second may be closed at the cap,
		// so silent connections cannot keep a newcomer waiting long.
		lim := newConnLimiter(ln, c.MaxConns, staleAfter)
		lim.bodyGrace = c.BodyGrace
		srv.ConnState = lim.track
		ln = lim
	}
	log.Info("listening", "addr", ln.Addr().String(), "max_conns", c.MaxConns, "body_grace", c.BodyGrace.String())
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	if c.Drain > 0 {
		draining.Store(true)
		log.Info("draining: not ready, still serving", "drain", c.Drain.String())
		t := time.NewTimer(c.Drain)
		select {
		case err := <-errc:
			t.Stop()
			return fmt.Errorf("serve: %w", err)
		case <-t.C:
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

type drainingKey struct{}

// Draining reports whether the server that serves the request of ctx is
// draining: it still serves, but is about to stop accepting, so a readiness
// check should fail and send the load balancer's traffic elsewhere. It is
// false for a request served without Serve.
func Draining(ctx context.Context) bool {
	d, ok := ctx.Value(drainingKey{}).(*atomic.Bool)
	return ok && d.Load()
}

// ShuttingDown writes a readiness check's answer during the drain: 503 with
// the error envelope, code unavailable. Unlike Error it logs nothing: a
// drain is expected, and Serve logs once when it begins, where a load
// balancer's checks would otherwise log a failed request each.
func ShuttingDown(w http.ResponseWriter) {
	status := StatusOf(errs.Unavailable)
	writeJSON(w, status, ErrorEnvelope{Code: status, Message: "shutting down: this instance stops accepting connections when its drain ends",
		Error: string(errs.Unavailable), StatusCode: status})
}

// closeWhileDraining asks the client of every response sent during the
// drain to close its connection, so that the next request of a keep-alive
// client or proxy opens a new connection, which the load balancer sends to
// another instance. Idle connections are left open rather than closed at
// once (as http.Server.SetKeepAlivesEnabled(false) would do): a request may
// already be on its way over one while the balancer still counts this
// instance in, and it would meet a closed connection instead of an answer.
// Shutdown closes those that are still idle when the drain ends.
func closeWhileDraining(h http.Handler, draining *atomic.Bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// staleAfter is how long a connection may stay silent before, at the
// connection cap, it may be closed to admit another.
const staleAfter = 500 * time.Millisecond
