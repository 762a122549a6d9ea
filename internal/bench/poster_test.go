package bench

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPoster_EveryFramingAndReconnects sends requests to a server that
// answers with each framing HTTP/1.1 allows in turn (a Content-Length, a
// chunked body, a closed connection) and once drops the connection without
// an answer: every answer is read whole, the dropped one is an error, and
// the poster reconnects after it.
func TestPoster_EveryFramingAndReconnects(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/activities/1/seckill" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request line or headers", http.StatusBadRequest)
			return
		}
		switch n.Add(1) % 4 {
		case 1: // Content-Length
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write(body)
		case 2: // chunked: flushed before the body is known
			w.(http.Flusher).Flush()
			_, _ = w.Write(body)
		case 3: // the server closes the connection after answering
			w.Header().Set("Connection", "close")
			_, _ = w.Write(body)
		case 0: // the connection breaks before any answer
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = c.Close()
			}
		}
	}))
	defer srv.Close()

	p, err := newPoster(context.Background(), srv.URL+"/activities/1/seckill")
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	var out bytes.Buffer
	for i := range 12 {
		body := []byte(`{"user_id":` + strconv.Itoa(i+1) + `}`)
		code, err := p.post(body, &out)
		if (i+1)%4 == 0 {
			if err == nil {
				t.Errorf("request %d: the connection broke, yet no error (status %d)", i, code)
			}
			continue
		}
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if want := map[int]int{0: 201}[i%4]; want != 0 && code != want {
			t.Errorf("request %d: status %d, want %d", i, code, want)
		}
		if !bytes.Equal(out.Bytes(), body) {
			t.Errorf("request %d: body %q, want %q", i, out.Bytes(), body)
		}
	}
}

func TestPoster_RefusesWhatItCannotSpeak(t *testing.T) {
	for _, u := range []string{"https://127.0.0.1:1/x", "127.0.0.1:1/x", "http:///x", "://"} {
		if _, err := newPoster(context.Background(), u); err == nil {
			t.Errorf("newPoster(%q) = nil error", u)
		}
	}
}

func TestPoster_CancelledContextStopsAHungRequest(t *testing.T) {
	arrived, hang := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-hang
	}))
	defer srv.Close()
	defer close(hang)
	ctx, cancel := context.WithCancel(context.Background())
	p, err := newPoster(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	errc := make(chan error, 1)
	go func() {
		_, err := p.post([]byte(`{}`), &bytes.Buffer{})
		errc <- err
	}()
	<-arrived // the request is on the wire, waiting for its answer
	cancel()
	if err := <-errc; err == nil {
		t.Error("a request still hanging when its context ended returned no error")
	}
}

// TestDrive_PacesTheCrowd checks that a paced crowd sends no request before
// it is due: 200 requests at 2000 a second cannot take less than the time
// the last one is due at, however fast the server answers.
func TestDrive_PacesTheCrowd(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"code":0,"message":"ok","data":{"won":false,"status":"sold_out"}}`))
	}))
	defer srv.Close()
	const rate, users = 2000.0, 100
	l, err := Drive(context.Background(), srv.URL, Crowd{FirstUser: 1, Users: users, Conns: 8, Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	if min := time.Duration(float64(2*users-1) / rate * float64(time.Second)); l.Duration < min {
		t.Errorf("200 requests paced to %.0f/s took %v, less than the %v the last was due at", rate, l.Duration, min)
	}
	s := l.Summarize()
	if s.Requests != 2*users || s.ByStatus["sold_out"] != 2*users {
		t.Errorf("answers %v, want %d sold_out", s.ByStatus, 2*users)
	}
}

func TestReadAnswer(t *testing.T) {
	for _, tc := range []struct{ body, status, order string }{
		{`{"code":0,"message":"ok","data":{"activity_id":1,"user_id":2,"won":true,"status":"won","order_id":"0190f2a4-0000-7000-8000-000000000001"}}` + "\n",
			"won", "0190f2a4-0000-7000-8000-000000000001"},
		{`{"code":0,"message":"ok","data":{"activity_id":1,"user_id":2,"won":false,"status":"sold_out"}}`, "sold_out", ""},
		// Field order and spacing other than the service's still read right.
		{`{"data": {"order_id": "x-1", "status": "already_won"}, "code": 0}`, "already_won", "x-1"},
		// An escaped status is left to encoding/json.
		{`{"data":{"status":"so\u006cd_out"}}`, "sold_out", ""},
		// Invalid JSON yields nothing, even where the fields can be seen.
		{`{"data":{"status":"won","order_id":"abc"}`, "", ""},
		// The error envelope has no data.
		{`{"code":503,"message":"busy","error":"unavailable","status_code":503}`, "", ""},
	} {
		status, order := readAnswer([]byte(tc.body))
		if status != tc.status || order != tc.order {
			t.Errorf("readAnswer(%s) = %q, %q; want %q, %q", tc.body, status, order, tc.status, tc.order)
		}
	}
}

func TestReadResponse(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		code      int
		keep      bool
		body      string
		fails     bool
	}{
		{"length", "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nX-Request-Id: a\r\n\r\nhello", 200, true, "hello", false},
		{"close", "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", 503, false, "{}", false},
		{"http10", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", 200, false, "x", false},
		{"http10 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx", 200, true, "x", false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n", 200, true, "abcde", false},
		{"no content", "HTTP/1.1 204 No Content\r\n\r\n", 204, true, "", false},
		{"until close", "HTTP/1.1 200 OK\r\n\r\nall of it", 200, false, "all of it", false},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, false, "", true},
		{"bad status", "HTTX/1.1 200 OK\r\n\r\n", 0, false, "", true},
		{"bad header", "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", 0, false, "", true},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, false, "", true},
	} {
		var out bytes.Buffer
		code, keep, err := readResponse(bufio.NewReader(strings.NewReader(tc.raw)), &out)
		if tc.fails {
			if err == nil {
				t.Errorf("%s: no error", tc.name)
			}
			continue
		}
		if err != nil || code != tc.code || keep != tc.keep || out.String() != tc.body {
			t.Errorf("%s: %d, keep %v, %q, %v; want %d, keep %v, %q", tc.name, code, keep, out.String(), err, tc.code, tc.keep, tc.body)
		}
	}
}
