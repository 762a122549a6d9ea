package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ServerConfig holds the timeouts of an HTTP server.
type ServerConfig struct {
	Addr              string
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
	MaxHeaderBytes    int
	// HandlerTimeout is the deadline of every request's context: a
	// database or peer that stops answering turns into a 503 before
	// WriteTimeout cuts the connection. 0 turns it off.
	HandlerTimeout time.Duration
	// MaxConns caps the open connections; at the cap the longest idle
	// keep-alive connection is closed to admit a new one. 0 turns the cap
	// off.
	MaxConns int
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
	}
}

// Serve listens on c.Addr and serves h until ctx is cancelled, then stops
// accepting connections and waits up to c.ShutdownTimeout for in-flight
// requests. ready, when not nil, is called with the bound address once the
// listener is open, which lets callers and tests use port 0. log receives
// the server's own messages and is every request's Logger.
func Serve(ctx context.Context, log *slog.Logger, c ServerConfig, h http.Handler, ready func(addr string)) error {
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	h = WithRequest(h, c.HandlerTimeout)
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
		BaseContext:       func(net.Listener) context.Context { return WithLogger(context.WithoutCancel(ctx), log) },
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
		srv.ConnState = lim.track
		ln = lim
	}
	log.Info("listening", "addr", ln.Addr().String(), "max_conns", c.MaxConns)
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

// staleAfter is how long a connection may stay silent before, at the
// connection cap, it may be closed to admit another.
const staleAfter = 500 * time.Millisecond
