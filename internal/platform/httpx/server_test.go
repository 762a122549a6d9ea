package httpx

import (
	"context"
	"encoding/json"
	"log/slog"
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
