package httpx

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestServe_HandlerDeadline serves a handler that waits for something that
// never answers: the request's deadline ends the wait, and the client gets
// a 503 envelope instead of a connection cut at WriteTimeout.
func TestServe_HandlerDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := DefaultServerConfig("127.0.0.1:0")
	c.HandlerTimeout = 100 * time.Millisecond
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, slog.New(slog.DiscardHandler), c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // a database that never answers
			Error(w, r, r.Context().Err())
		}), func(a string) { addr <- a })
	}()
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + <-addr + "/")
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	var env ErrorEnvelope
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || env.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d, envelope %+v; want 503", resp.StatusCode, env)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestServe_HeaderLimit refuses a request whose headers pass
// MaxHeaderBytes with 431, before any handler runs.
func TestServe_HeaderLimit(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := DefaultServerConfig("127.0.0.1:0")
	c.MaxHeaderBytes = 1 << 10
	addr := make(chan string, 1)
	done := make(chan error, 1)
	var handled atomic.Bool
	go func() {
		done <- Serve(ctx, slog.New(slog.DiscardHandler), c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handled.Store(true) }),
			func(a string) { addr <- a })
	}()
	req, _ := http.NewRequest("GET", "http://"+<-addr+"/", nil)
	req.Header.Set("X-Padding", strings.Repeat("x", 16<<10))
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || handled.Load() {
		t.Errorf("status %d, handler ran %v; want 431 and no handler", resp.StatusCode, handled.Load())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestError_AbandonedRequestIsNot500 has clients leave mid-request: one
// stops sending its body, one hangs up while the handler waits on the
// database. Neither is a server error: both are recorded as 499.
func TestError_AbandonedRequestIsNot500(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	statuses, started := make(chan int, 2), make(chan struct{}, 2)
	h := http.NewServeMux()
	h.HandleFunc("POST /body", func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		_, err := Decode[struct{ Name string }](w, r)
		Error(w, r, err)
	})
	h.HandleFunc("GET /wait", func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-r.Context().Done() // a query the client's departure cancels
		Error(w, r, r.Context().Err())
	})
	rec := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sr := Recorder(w)
		h.ServeHTTP(sr, r)
		statuses <- sr.Status
	})
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, slog.New(slog.DiscardHandler), DefaultServerConfig("127.0.0.1:0"), rec, func(a string) { addr <- a })
	}()
	a := <-addr
	for _, req := range []string{
		"POST /body HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"Name\":",
		"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		c, err := net.Dial("tcp", a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		<-started // the client leaves once its request is being handled
		c.Close()
		select {
		case got := <-statuses:
			if got != StatusClientClosedRequest {
				t.Errorf("%q: recorded %d, want %d", strings.Fields(req)[1], got, StatusClientClosedRequest)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%q: the handler did not finish", strings.Fields(req)[1])
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestServe_ConnectionCap holds the cap's worth of idle keep-alive
// connections: a new client is still answered, because the longest idle
// connection is closed to make room.
func TestServe_ConnectionCap(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := DefaultServerConfig("127.0.0.1:0")
	c.MaxConns = 3
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, slog.New(slog.DiscardHandler), c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { OK(w, "hi") }),
			func(a string) { addr <- a })
	}()
	a := <-addr
	request := func(conn net.Conn) error {
		if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return err
	}
	var idle []net.Conn
	for i := range 10 {
		conn, err := net.Dial("tcp", a)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if err := request(conn); err != nil {
			t.Fatalf("client %d was not answered: %v", i, err)
		}
		idle = append(idle, conn)
	}
	// The server holds at most the cap: the others were closed by it, and
	// a read on them sees EOF at once instead of waiting for the deadline.
	closed := 0
	for _, conn := range idle {
		_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if n, err := conn.Read(make([]byte, 1)); n == 0 && err == io.EOF {
			closed++
		}
	}
	if want := len(idle) - c.MaxConns; closed < want {
		t.Errorf("%d of %d idle connections closed by the server, want at least %d", closed, len(idle), want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
