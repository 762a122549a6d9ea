// Package svctest runs a service's Run function in-process on a loopback
// port for end-to-end tests, and talks JSON to it.
package svctest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/seckill/seckill/internal/platform/app"
	"github.com/seckill/seckill/internal/testing/contract"
)

// RunFunc is the signature of every service's Run.
type RunFunc func(ctx context.Context, getenv func(string) string, stderr io.Writer, opt app.Options) error

// Service is a running service.
type Service struct {
	// URL is where tests reach the service: a proxy that checks every
	// exchange against the service's Swagger document (see Start).
	URL string
	// Direct is the service's own address, for what must bypass the check.
	Direct string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// The credentials every service Start runs checks and sends, unless env
// says otherwise. Do sends AdminToken; DoAs sends any.
const (
	AdminToken   = "svctest-admin-token-0123456789abcdef"
	ServiceToken = "svctest-service-token-0123456789abcdef"
	// UserSecret is a USER_JWT_SECRET for tests of buyers with JWTs;
	// Start does not set it.
	UserSecret = "svctest-user-jwt-secret-0123456789abcdef"
)

// BuyerToken returns an HS256 JWT for user signed with secret, expiring
// after ttl (a negative ttl makes an expired one).
func BuyerToken(t testing.TB, secret string, user int64, ttl time.Duration) string {
	t.Helper()
	claims := jwt.RegisteredClaims{Subject: strconv.FormatInt(user, 10), ExpiresAt: jwt.NewNumericDate(time.Now().Add(ttl))}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Start runs run with env (HTTP_ADDR defaults to 127.0.0.1:0, ACCESS_LOG
// to false, ADMIN_TOKEN and SERVICE_TOKEN to the constants above, and
// ACTIVITY_SERVICE_URL to an address nothing answers, so that an order
// service a test starts alone never reports to a stack running on this
// machine) and waits until it serves /healthz. The service is stopped when
// t ends.
//
// URL is a proxy in front of the service that checks every request and
// response against the Swagger document the service serves at
// /swagger/doc.json (the one committed under api/): anything the document
// does not describe fails t. Calls between services made through URLs
// from Start are checked too.
func Start(t testing.TB, run RunFunc, env map[string]string) *Service {
	t.Helper()
	vars := map[string]string{"HTTP_ADDR": "127.0.0.1:0", "ACCESS_LOG": "false", "LOG_LEVEL": "warn", "JAEGER_DISABLED": "true",
		"ADMIN_TOKEN": AdminToken, "SERVICE_TOKEN": ServiceToken, "ACTIVITY_SERVICE_URL": "http://127.0.0.1:1"}
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
		s.Direct = "http://" + a
		s.URL = s.Direct
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
	s.URL = checked(t, s.Direct)
	return s
}

// checked starts a proxy to base that checks each exchange against the
// document base serves, and returns the proxy's URL. A service without a
// document is returned unchecked.
func checked(t testing.TB, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/swagger/doc.json")
	if err != nil {
		t.Fatalf("fetch the Swagger document: %v", err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return base
	}
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("fetch the Swagger document: %d %v", resp.StatusCode, err)
	}
	doc, err := contract.Load(raw)
	if err != nil {
		t.Fatalf("contract: %v", err)
	}
	target, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		reported int
	)
	proxy := httptest.NewServer(doc.Proxy(target, func(problem string) {
		mu.Lock()
		defer mu.Unlock()
		if reported++; reported <= maxReported {
			t.Errorf("contract: %s", problem)
		}
	}))
	t.Cleanup(func() {
		proxy.Close()
		if reported > maxReported {
			t.Errorf("contract: %d more problems", reported-maxReported)
		}
	})
	return proxy.URL
}

// maxReported bounds how many contract problems one service reports: one
// wrong handler under a crowd would otherwise print thousands.
const maxReported = 20

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
// nothing) as an administrator and decodes the JSON answer.
func Do(t testing.TB, method, url string, body any) Response {
	t.Helper()
	return DoAs(t, AdminToken, method, url, body)
}

// DoAs is Do with token as the bearer credential; "" sends none (a buyer
// in open buyer mode, or an anonymous caller).
func DoAs(t testing.TB, token, method, url string, body any) Response {
	t.Helper()
	auth := ""
	if token != "" {
		auth = "Bearer " + token
	}
	return doAuth(t, auth, method, url, body)
}

// doAuth sends auth ("" for none) as the Authorization header.
func doAuth(t testing.TB, auth, method, url string, body any) Response {
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
	if auth != "" {
		req.Header.Set("Authorization", auth)
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

// CheckDenied asserts that r refuses a caller in the error envelope: 401
// with a WWW-Authenticate: Bearer challenge, or 403.
func CheckDenied(t testing.TB, r Response, status int) {
	t.Helper()
	CheckError(t, r, status)
	if h := r.Header.Get("WWW-Authenticate"); status == http.StatusUnauthorized && !strings.HasPrefix(h, "Bearer") {
		t.Fatalf("401 without a Bearer challenge (WWW-Authenticate %q): %s", h, r.Raw)
	}
}

// Guarded is a route only one kind of caller may use, with a request that
// succeeds when that caller sends it.
type Guarded struct {
	Method, URL string
	Body        any
	Token       string   // the credential that may call it
	Others      []string // valid credentials of other kinds: refused with 403
}

// CheckGuarded sends each route with no credential, a forged one, one in
// another scheme (each must be 401) and every credential in Others (403),
// and checks after each that state() is unchanged; then it sends the
// route with its own credential, which must succeed. Routes run in order,
// so a later one may rely on an earlier one's success.
func CheckGuarded(t *testing.T, routes []Guarded, state func() string) {
	t.Helper()
	for _, g := range routes {
		t.Run(g.Method+" "+g.URL, func(t *testing.T) {
			before := state()
			for _, c := range []struct {
				auth   string
				status int
			}{{"", 401}, {"Bearer forged-" + g.Token, 401}, {"Bearer " + g.Token + "x", 401}, {"Basic " + g.Token, 401}} {
				r := doAuth(t, c.auth, g.Method, g.URL, g.Body)
				CheckDenied(t, r, c.status)
			}
			for _, other := range g.Others {
				CheckDenied(t, DoAs(t, other, g.Method, g.URL, g.Body), http.StatusForbidden)
			}
			if after := state(); after != before {
				t.Fatalf("a refused request changed the state:\nbefore %s\nafter  %s", before, after)
			}
			if r := DoAs(t, g.Token, g.Method, g.URL, g.Body); r.Status >= 300 {
				t.Fatalf("with the right credential: %d %s", r.Status, r.Raw)
			}
		})
	}
}
