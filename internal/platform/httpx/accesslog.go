package httpx

import (
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// AccessLogger writes one JSON line per request, in the shape of the
// service's slog lines (time, level, msg, service, then the request's
// fields), and costs the request path little enough to stay on by default:
// the line is formatted by hand into a pooled buffer and appended to a
// shared one under a short lock; a background goroutine writes that buffer
// out every FlushInterval, or sooner when it fills. A request never waits
// for the writer: when the output cannot keep up and the buffer reaches its
// bound, lines are dropped and the next write says how many.
//
// A line per request through slog's handler, as before, wrote to stderr
// once per request under the handler's lock and cost the seckill endpoint
// about a fifth of its throughput.
type AccessLogger struct {
	w        io.Writer
	service  string
	interval time.Duration

	mu      sync.Mutex
	buf     []byte
	dropped int
	kick    chan struct{}

	writeMu sync.Mutex // one flush at a time, lines in order
	spare   []byte

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

const (
	// accessLogFlushAt asks the flusher to write before its interval.
	accessLogFlushAt = 64 << 10
	// accessLogMaxBuffer bounds what waits for a stalled writer.
	accessLogMaxBuffer = 4 << 20
	// pipeAtomic is the size up to which a write to a pipe is not
	// interleaved with other writers' (PIPE_BUF on Linux): the service's
	// other log lines share stderr.
	pipeAtomic = 4096
)

// DefaultAccessLogFlushInterval is how long a line may wait in the buffer.
const DefaultAccessLogFlushInterval = 200 * time.Millisecond

// NewAccessLogger starts an access logger writing to w. Close flushes it
// and stops its goroutine.
func NewAccessLogger(w io.Writer, service string, flushInterval time.Duration) *AccessLogger {
	if flushInterval <= 0 {
		flushInterval = DefaultAccessLogFlushInterval
	}
	l := &AccessLogger{w: w, service: service, interval: flushInterval, kick: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	go l.loop()
	return l
}

var lineBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// Middleware logs every request that passes through it.
func (l *AccessLogger) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := Recorder(w)
		next.ServeHTTP(rec, r)
		l.log(rec.Start, r, rec)
	})
}

func (l *AccessLogger) log(start time.Time, r *http.Request, rec *StatusRecorder) {
	bp := lineBufs.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, `{"time":"`...)
	b = start.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"http","service":`...)
	b = appendJSONString(b, l.service)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, r.Method)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, r.URL.Path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(rec.Final(true)), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, int64(rec.Bytes), 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendInt(b, int64(time.Since(start)), 10)
	if id := RequestIDFrom(r.Context()); id != "" {
		b = append(b, `,"request_id":`...)
		b = appendJSONString(b, id)
	}
	b = append(b, "}\n"...)

	l.mu.Lock()
	full := false
	if len(l.buf)+len(b) > accessLogMaxBuffer {
		l.dropped++
	} else {
		l.buf = append(l.buf, b...)
		full = len(l.buf) >= accessLogFlushAt
	}
	l.mu.Unlock()
	*bp = b
	lineBufs.Put(bp)
	if full {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

func (l *AccessLogger) loop() {
	defer close(l.done)
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			l.Flush()
			return
		case <-t.C:
		case <-l.kick:
		}
		l.Flush()
	}
}

// Flush writes out every line logged so far.
func (l *AccessLogger) Flush() {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	l.mu.Lock()
	out, dropped := l.buf, l.dropped
	l.buf, l.dropped = l.spare[:0], 0
	l.mu.Unlock()
	if dropped > 0 {
		var b []byte
		b = append(b, `{"time":"`...)
		b = time.Now().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","level":"WARN","msg":"access log lines dropped: the log output is too slow","service":`...)
		b = appendJSONString(b, l.service)
		b = append(b, `,"dropped":`...)
		b = strconv.AppendInt(b, int64(dropped), 10)
		b = append(b, "}\n"...)
		_, _ = l.w.Write(b)
	}
	// The written buffer is the next spare: it keeps its capacity, so a
	// busy logger stops allocating once both buffers have grown.
	l.spare = out[:0]
	for len(out) > 0 {
		n := lineChunk(out, pipeAtomic)
		if _, err := l.w.Write(out[:n]); err != nil {
			break // nowhere to report it: the log is the report
		}
		out = out[n:]
	}
}

// lineChunk returns how many bytes of b, ending with a whole line, fit in
// max; a single longer line is returned whole.
func lineChunk(b []byte, max int) int {
	if len(b) <= max {
		return len(b)
	}
	for i := max - 1; i >= 0; i-- {
		if b[i] == '\n' {
			return i + 1
		}
	}
	for i := max; i < len(b); i++ {
		if b[i] == '\n' {
			return i + 1
		}
	}
	return len(b)
}

// Close flushes what is buffered and stops the logger. It may be called
// more than once.
func (l *AccessLogger) Close() {
	l.once.Do(func() { close(l.stop) })
	<-l.done
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced, so a hostile path
// cannot forge fields or break the line.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
