package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/seckill/seckill/internal/platform/errs"
)

type ctxKey int

const requestIDKey ctxKey = iota

// RequestIDHeader carries the request id between services and back to clients.
const RequestIDHeader = "X-Request-Id"

// RequestIDFrom returns the request id stored in ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	switch v := ctx.Value(requestIDKey).(type) {
	case *requestCtx:
		return v.id
	case string:
		return v
	}
	return ""
}

// WithRequestID returns ctx carrying id, so outgoing calls can forward it.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID takes the caller's X-Request-Id when it is sane, or makes one,
// stores it in the context and echoes it in the response. Behind Serve,
// whose WithRequest has done all that already, it passes the request on.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if RequestIDFrom(r.Context()) != "" {
			next.ServeHTTP(w, r)
			return
		}
		id := requestID(r)
		w.Header()[RequestIDHeader] = []string{id}
		next.ServeHTTP(w, r.WithContext(WithRequestID(r.Context(), id)))
	})
}

// requestID returns the caller's X-Request-Id when it is sane, or a new one.
func requestID(r *http.Request) string {
	id := r.Header.Get(RequestIDHeader)
	if id == "" || len(id) > 64 || strings.ContainsFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		return newID()
	}
	return id
}

// Request ids are a random per-process prefix and a counter: unique enough
// to find a request in the logs, and far cheaper than random bytes per
// request on the seckill hot path.
var (
	idPrefix  = randomPrefix()
	idCounter atomic.Uint64
)

func randomPrefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "-"
}

func newID() string {
	var b [32]byte
	return string(strconv.AppendUint(append(b[:0], idPrefix...), idCounter.Add(1), 36))
}

// Recover turns a panic in a handler into a 500 error envelope and a log
// line with the stack, so one bad request cannot take the process down.
func Recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				Logger(r.Context()).ErrorContext(r.Context(), "panic in handler", "method", r.Method, "path", r.URL.Path,
					"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				Error(w, r, errs.E(errs.Internal, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// CORSConfig mirrors the original's ACCESS_CONTROL_ALLOW_* settings.
type CORSConfig struct {
	AllowOrigin  string // e.g. "*" or "https://shop.example"; empty turns CORS off
	AllowMethods string
	AllowHeaders string
	MaxAge       int // seconds a preflight answer may be cached
}

// CORS answers preflight requests and adds the Access-Control-Allow-* headers.
func CORS(c CORSConfig) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if c.AllowOrigin == "" {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Browsers send Origin on every cross-origin request; without it
			// the headers mean nothing and only cost both sides on the hot
			// path.
			if r.Header.Get("Origin") == "" {
				next.ServeHTTP(w, r)
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", c.AllowOrigin)
			h.Set("Access-Control-Allow-Methods", c.AllowMethods)
			h.Set("Access-Control-Allow-Headers", c.AllowHeaders)
			if c.AllowOrigin != "*" {
				h.Add("Vary", "Origin")
			}
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Max-Age", strconv.Itoa(c.MaxAge))
				w.WriteHeader(http.StatusNoContent)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// StatusRecorder wraps a ResponseWriter to remember the status and size
// written, for access logs and metrics.
type StatusRecorder struct {
	http.ResponseWriter
	Status int
	Bytes  int
	// Start is when the first middleware to wrap the writer saw the
	// request: the metrics and the access log time it from the same
	// reading of the clock.
	Start time.Time
}

// WriteHeader records the status.
func (s *StatusRecorder) WriteHeader(code int) {
	if s.Status == 0 {
		s.Status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write records the size and, if no header was written, status 200.
func (s *StatusRecorder) Write(b []byte) (int, error) {
	if s.Status == 0 {
		s.Status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.Bytes += n
	return n, err
}

// Final returns the status the client got: 500 when the handler did not
// complete (it panicked, and Recover further out answers 500), 200 when it
// wrote nothing.
func (s *StatusRecorder) Final(completed bool) int {
	switch {
	case !completed:
		return http.StatusInternalServerError
	case s.Status == 0:
		return http.StatusOK
	}
	return s.Status
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *StatusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Recorder returns w as a *StatusRecorder, wrapping it only once per request.
func Recorder(w http.ResponseWriter) *StatusRecorder {
	if s, ok := w.(*StatusRecorder); ok {
		return s
	}
	return &StatusRecorder{ResponseWriter: w, Start: time.Now()}
}

// NotFound answers unknown routes with the error envelope.
func NotFound(w http.ResponseWriter, r *http.Request) {
	Error(w, r, errs.E(errs.NotFound, "no route for %s %s", r.Method, r.URL.Path))
}

// MethodNotAllowed answers a known route with a wrong method, listing the
// methods the route has in the Allow header (RFC 9110, 15.5.6).
func MethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.Routes != nil {
		var allowed []string
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if rctx.Routes.Match(chi.NewRouteContext(), m, r.URL.Path) {
				allowed = append(allowed, m)
			}
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
	}
	env := ErrorEnvelope{Code: http.StatusMethodNotAllowed, Message: "method " + r.Method + " not allowed on " + r.URL.Path,
		Error: "method_not_allowed", StatusCode: http.StatusMethodNotAllowed}
	writeJSON(w, http.StatusMethodNotAllowed, env)
}
