// Package svctest runs a service's Run function in-process on a loopback
// port for end-to-end tests, and talks JSON to it.
package svctest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/platform/app"
)

// RunFunc is the signature of every service's Run.
type RunFunc func(ctx context.Context, getenv func(string) string, stderr io.Writer, opt app.Options) error

// Service is a running service.
type Service struct {
	URL    string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// Start runs run with env (HTTP_ADDR defaults to 127.0.0.1:0 and ACCESS_LOG
// to false) and waits until it serves /healthz. The service is stopped
// when t ends.
func Start(t testing.TB, run RunFunc, env map[string]string) *Service {
	t.Helper()
	vars := map[string]string{"HTTP_ADDR": "127.0.0.1:0", "ACCESS_LOG": "false", "LOG_LEVEL": "warn", "JAEGER_DISABLED": "true"}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{cancel: cancel, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		s.done <- run(ctx, func(k string) string { return vars[k] }, testWriter{t}, app.Options{Ready: func(a string) { addr <- a }})
	}()
	select {
	case a := <-addr:
		s.URL = "http://" + a
	case err := <-s.done:
		cancel()
		t.Fatalf("service did not start: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("service did not start within 60s")
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("service stopped with error: %v", err)
		}
	})
	WaitHealthy(t, s.URL, 30*time.Second)
	return s
}

// Stop cancels the service's context (a graceful shutdown) and returns
// Run's error. It may be called more than once.
func (s *Service) Stop() error {
	s.once.Do(func() {
		s.cancel()
		s.err = <-s.done
	})
	return s.err
}

// WaitHealthy polls base/healthz until it answers 200 or within elapses.
func WaitHealthy(t testing.TB, base string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/healthz not healthy within %s: %v", base, within, err)
		}
		time.Sleep(20 * time.Millisecond) // polling interval of a deadline-bounded wait
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Response is a decoded JSON response.
type Response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

// Data returns the envelope's data as an object.
func (r Response) Data() map[string]any {
	m, _ := r.Body["data"].(map[string]any)
	return m
}

// Do sends body (a string is sent as is, anything else as JSON; nil sends
// nothing) and decodes the JSON answer.
func Do(t testing.TB, method, url string, body any) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	_ = d.Decode(&r.Body)
	return r
}

// Int reads a JSON number field as int64.
func Int(v any) int64 {
	switch n := v.(type) {
	case json.Number:
		i, _ := n.Int64()
		return i
	case float64:
		return int64(n)
	}
	return 0
}

// CheckError asserts that r is an error envelope with the given status.
func CheckError(t testing.TB, r Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Raw)
	}
	if Int(r.Body["status_code"]) != int64(status) || Int(r.Body["code"]) == 0 || r.Body["message"] == "" || r.Body["error"] == "" {
		t.Fatalf("not an error envelope for %d: %s", status, r.Raw)
	}
}
