package httpx

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
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

// TestServe_DrainAsksKeepAliveClientsToLeave holds a keep-alive connection
// across the cancellation of a server with a drain: the connection is not
// cut under its client, its next request is served, with Draining true and
// Connection: close, and then the server closes it, so the client's next
// request opens a connection the load balancer sends elsewhere.
func TestServe_DrainAsksKeepAliveClientsToLeave(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := DefaultServerConfig("127.0.0.1:0")
	c.Drain = 2 * time.Second
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, slog.New(slog.DiscardHandler), c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			OK(w, Draining(r.Context()))
		}), func(a string) { addr <- a })
	}()
	conn, err := net.Dial("tcp", <-addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	// request sends one request on conn and returns whether the server was
	// draining when it served it, and whether it asked to close.
	request := func() (draining, closing bool) {
		t.Helper()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			t.Fatalf("write on the kept-alive connection: %v", err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("read on the kept-alive connection: %v", err)
		}
		defer resp.Body.Close()
		var env struct{ Data bool }
		if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, %v; want 200 with the envelope", resp.StatusCode, err)
		}
		return env.Data, resp.Close
	}
	if draining, closing := request(); draining || closing {
		t.Fatalf("before the cancel: draining %v, closing %v; want neither", draining, closing)
	}

	cancel()
	// The drain begins in Serve's goroutine: until it has, answers on the
	// connection are ordinary ones.
	deadline := time.Now().Add(c.Drain / 2)
	for {
		draining, closing := request()
		if closing {
			// The wrapper that asks to close looked before the handler
			// did, and a drain once begun does not end.
			if !draining {
				t.Fatal("asked to close the connection, yet the handler saw no drain")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not draining %s after the cancel", c.Drain/2)
		}
		time.Sleep(10 * time.Millisecond) // polling interval of a deadline-bounded wait
	}
	// The server closes the connection after that answer.
	if n, err := br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("after the answer asking to close: read %d bytes, %v; want EOF", n, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(c.Drain + 10*time.Second):
		t.Fatal("Serve did not return after its drain")
	}
}

// TestServe_BodyTricklersAtTheCap fills the cap with clients trickling
// their bodies: a new client is answered well within a second, even a
// slow one whose small body comes a while after its headers, and the
// tricklers are cut with 408 and Connection: close. Below the cap, a body
// slower than the grace is served.
func TestServe_BodyTricklersAtTheCap(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := DefaultServerConfig("127.0.0.1:0")
	c.MaxConns = 4
	c.BodyGrace = 300 * time.Millisecond
	addr := make(chan string, 1)
	done := make(chan error, 1)
	var started atomic.Int64
	go func() {
		done <- Serve(ctx, slog.New(slog.DiscardHandler), c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			started.Add(1)
			in, err := Decode[struct {
				UserID int `json:"user_id"`
			}](w, r)
			if err != nil {
				Error(w, r, err)
				return
			}
			OK(w, in.UserID)
		}), func(a string) { addr <- a })
	}()
	a := <-addr
	const body = `{"user_id":7}`
	// send writes the headers, then the body in parts with pause between
	// them (a client's pacing), and reads the answer.
	send := func(conn net.Conn, pause time.Duration, parts ...string) (*http.Response, error) {
		head := fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
		if _, err := conn.Write([]byte(head)); err != nil {
			return nil, err
		}
		for _, p := range parts {
			time.Sleep(pause)
			if _, err := conn.Write([]byte(p)); err != nil {
				return nil, err
			}
		}
		return http.ReadResponse(bufio.NewReader(conn), nil)
	}
	dial := func(t *testing.T) net.Conn {
		conn, err := net.Dial("tcp", a)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		return conn
	}

	t.Run("below the cap a slow body is served", func(t *testing.T) {
		start := time.Now()
		resp, err := send(dial(t), 200*time.Millisecond, body[:3], body[3:6], body[6:])
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("a body taking %s: %v %v, want 200", time.Since(start), resp, err)
		}
	})

	t.Run("at the cap tricklers are cut for a newcomer", func(t *testing.T) {
		type answer struct {
			resp *http.Response
			err  error
		}
		tricklers := make(chan answer, c.MaxConns)
		for range c.MaxConns {
			conn := dial(t)
			go func() {
				// One byte, then nothing more until cut.
				resp, err := send(conn, 0, body[:1])
				tricklers <- answer{resp, err}
			}()
		}
		// The tricklers hold every slot once each request has started
		// (the first subtest's idle connection was closed for one); a
		// newcomer then needs one of them cut.
		deadline := time.Now().Add(5 * time.Second)
		for started.Load() < int64(1+c.MaxConns) {
			if time.Now().After(deadline) {
				t.Fatalf("%d trickler requests started, want %d", started.Load()-1, c.MaxConns)
			}
			time.Sleep(10 * time.Millisecond)
		}
		start := time.Now()
		// A phone on a bad link: the small body comes a round trip after
		// its headers.
		resp, err := send(dial(t), 150*time.Millisecond, body)
		took := time.Since(start)
		if err != nil || resp.StatusCode != 200 || took > time.Second {
			t.Fatalf("a newcomer at a cap full of tricklers: %v %v in %s, want 200 within 1s", resp, err, took)
		}
		cutOne := <-tricklers
		if cutOne.err != nil || cutOne.resp.StatusCode != http.StatusRequestTimeout || !cutOne.resp.Close {
			t.Fatalf("the trickler cut: %v %v, want 408 with Connection: close", cutOne.resp, cutOne.err)
		}
		if _, err := cutOne.resp.Body.Read(make([]byte, 512)); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		t.Logf("newcomer answered in %s", took.Round(time.Millisecond))
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
