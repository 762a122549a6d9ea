package httpx

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer the logger's goroutine and the test may
// share.
type lockedBuffer struct {
	mu       sync.Mutex
	b        bytes.Buffer
	writes   int
	maxWrite int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	l.maxWrite = max(l.maxWrite, len(p))
	if len(p) > 0 && p[len(p)-1] != '\n' {
		panic("a write that does not end a line")
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestAccessLogger_OneJSONLinePerRequest(t *testing.T) {
	var out lockedBuffer
	l := NewAccessLogger(&out, "activity", time.Hour)
	h := RequestID(l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte("hello"))
	})))
	for _, path := range []string{"/activities/1/seckill", "/a\"b\\c\n\x00\xff/é"} {
		req := httptest.NewRequest("POST", "/", nil)
		req.URL.Path = path
		req.Header.Set(RequestIDHeader, "req-1")
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	// The flush interval is an hour: only Close writes the lines.
	if got := out.lines(t); len(got) != 0 {
		t.Fatalf("%d lines written before the flush, want 0", len(got))
	}
	l.Close()
	l.Close() // a second Close is harmless
	lines := out.lines(t)
	if got, want := len(lines), 2; got != want {
		t.Fatalf("lines = %d, want %d", got, want)
	}
	for i, wantPath := range []string{"/activities/1/seckill", "/a\"b\\c\n\x00\ufffd/é"} {
		l := lines[i]
		for k, want := range map[string]any{"level": "INFO", "msg": "http", "service": "activity", "method": "POST",
			"path": wantPath, "status": float64(418), "bytes": float64(5), "request_id": "req-1"} {
			if got := l[k]; got != want {
				t.Errorf("line %d: %s = %#v, want %#v", i, k, got, want)
			}
		}
		if _, err := time.Parse(time.RFC3339Nano, l["time"].(string)); err != nil {
			t.Errorf("line %d: time: %v", i, err)
		}
		if d, ok := l["duration"].(float64); !ok || d < 0 {
			t.Errorf("line %d: duration = %v", i, l["duration"])
		}
	}
}

func TestAccessLogger_FlushesWithinItsInterval(t *testing.T) {
	var out lockedBuffer
	l := NewAccessLogger(&out, "product", 10*time.Millisecond)
	defer l.Close()
	l.Middleware(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	deadline := time.Now().Add(5 * time.Second)
	for len(out.lines(t)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the line was not written within 5s of a 10ms flush interval")
		}
		time.Sleep(5 * time.Millisecond) // polling interval of a deadline-bounded wait
	}
	if got := out.lines(t)[0]["status"]; got != float64(404) {
		t.Errorf("status = %v, want 404", got)
	}
}

// blockingWriter stalls every write until released, as a full pipe does.
type blockingWriter struct {
	release chan struct{}
	lockedBuffer
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	<-b.release
	return b.lockedBuffer.Write(p)
}

func TestAccessLogger_AStalledOutputDropsLinesAndSaysSo(t *testing.T) {
	w := &blockingWriter{release: make(chan struct{})}
	l := NewAccessLogger(w, "activity", time.Millisecond)
	h := l.Middleware(http.NotFoundHandler())
	// Requests go on while the writer is stalled; they never wait for it.
	long := "/" + strings.Repeat("p", 1000)
	n := 2*accessLogMaxBuffer/len(long) + 100
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i++ {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", long, nil))
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("requests waited for a stalled log output")
	}
	close(w.release)
	l.Close()
	var logged, dropped int
	for _, line := range w.lines(t) {
		if line["msg"] == "http" {
			logged++
		} else if d, ok := line["dropped"].(float64); ok {
			dropped += int(d)
		}
	}
	if dropped == 0 {
		t.Fatal("no line says lines were dropped")
	}
	if got, want := logged+dropped, n; got != want {
		t.Errorf("logged %d + dropped %d = %d, want every request (%d) counted", logged, dropped, got, want)
	}
}

func TestAccessLogger_WritesWholeLinesOfAtMostPipeBuf(t *testing.T) {
	var out lockedBuffer
	l := NewAccessLogger(&out, "order", time.Hour)
	h := l.Middleware(http.NotFoundHandler())
	for i := 0; i < 200; i++ {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/orders/"+strings.Repeat("x", i), nil))
	}
	l.Close()
	if got := len(out.lines(t)); got != 200 {
		t.Fatalf("lines = %d, want 200", got)
	}
	if out.writes < 2 || out.maxWrite > pipeAtomic {
		t.Fatalf("%d writes for %d bytes, the largest %d: not cut at %d", out.writes, out.b.Len(), out.maxWrite, pipeAtomic)
	}
}

func TestLineChunk(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want int
	}{
		{"ab\ncd\n", 10, 6},
		{"ab\ncd\n", 4, 3},
		{"abcdef\ngh\n", 4, 7}, // one line longer than max goes whole
		{"abcdef", 4, 6},
	} {
		if got := lineChunk([]byte(tc.in), tc.max); got != tc.want {
			t.Errorf("lineChunk(%q, %d) = %d, want %d", tc.in, tc.max, got, tc.want)
		}
	}
}
