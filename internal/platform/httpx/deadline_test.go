package httpx

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// within fails the test unless ch closes within a generous bound.
func within(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: not done after 5s", what)
	}
}

func TestWithRequest_ReportsTheDeadlineAndEndsThere(t *testing.T) {
	var got context.Context
	h := WithRequest(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Context()
		d, ok := got.Deadline()
		if !ok || time.Until(d) > 30*time.Millisecond {
			t.Errorf("Deadline() = %v, %v; want one within 30ms", d, ok)
		}
		within(t, got.Done(), "Done")
		if !errors.Is(got.Err(), context.DeadlineExceeded) {
			t.Errorf("Err() = %v, want DeadlineExceeded", got.Err())
		}
	}), 30*time.Millisecond)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if got == nil {
		t.Fatal("handler not called")
	}
}

func TestWithRequest_ErrWithoutDoneStillSeesTheDeadline(t *testing.T) {
	parent := context.Background()
	c := &requestCtx{parent: parent, deadline: time.Now().Add(-time.Millisecond)}
	defer c.stop()
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err() = %v, want DeadlineExceeded", c.Err())
	}
}

func TestWithRequest_ParentCancellationReachesDerivedContexts(t *testing.T) {
	type key struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	c := &requestCtx{parent: parent, id: "req-1", deadline: time.Now().Add(time.Hour)}
	defer c.stop()
	if got := c.Value(key{}); got != "v" {
		t.Errorf("parent's value through the context = %v, want v", got)
	}
	child, stopChild := context.WithCancel(c)
	defer stopChild()
	if got, v := RequestIDFrom(child), child.Value(key{}); got != "req-1" || v != "v" {
		t.Errorf("values through a derived context = %q, %v; want req-1, v", got, v)
	}
	cancel()
	within(t, child.Done(), "derived context")
	within(t, c.Done(), "deadline context")
	if !errors.Is(c.Err(), context.Canceled) || !errors.Is(child.Err(), context.Canceled) {
		t.Errorf("Err() = %v and %v, want Canceled", c.Err(), child.Err())
	}
	if d, _ := c.Deadline(); time.Until(d) < 59*time.Minute {
		t.Errorf("Deadline() = %v, want an hour away", d)
	}
}

func TestWithRequest_TheEarlierParentDeadlineWins(t *testing.T) {
	parent, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := &requestCtx{parent: parent, deadline: time.Now().Add(time.Hour)}
	pd, _ := parent.Deadline()
	if d, _ := c.Deadline(); !d.Equal(pd) {
		t.Errorf("Deadline() = %v, want the parent's %v", d, pd)
	}
}

// A request that never waits must not pay for a timer: the context, the
// request copy, the echoed header and the id are all it allocates.
func TestWithRequest_AllocatesNoTimerForARequestThatDoesNotWait(t *testing.T) {
	h := WithRequest(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), time.Minute)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	w := httptest.NewRecorder()
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, req) }); n > 4 {
		t.Errorf("%v allocations per request, want at most 4", n)
	}
}

func TestWithRequest_CarriesTheRequestIDAndEchoesIt(t *testing.T) {
	for _, tc := range []struct{ sent, want string }{
		{"abc-123", "abc-123"},
		{"", ""},           // made up
		{"bad id\x7f", ""}, // refused, made up
	} {
		var got string
		var deadline bool
		h := WithRequest(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = RequestIDFrom(r.Context())
			_, deadline = r.Context().Deadline()
		}), 0)
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if tc.sent != "" {
			req.Header.Set(RequestIDHeader, tc.sent)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if got == "" || (tc.want != "" && got != tc.want) || (tc.want == "" && got == tc.sent) {
			t.Errorf("sent %q: id in context %q, want %q (or a new one)", tc.sent, got, tc.want)
		}
		if echoed := w.Header().Get(RequestIDHeader); echoed != got {
			t.Errorf("sent %q: echoed %q, want %q", tc.sent, echoed, got)
		}
		if deadline {
			t.Errorf("with d = 0 the request has a deadline")
		}
	}
}

// Behind WithRequest the RequestID middleware adds nothing: no second id,
// no second copy of the request.
func TestRequestID_BehindWithRequestKeepsItsID(t *testing.T) {
	var got string
	h := WithRequest(RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = RequestIDFrom(r.Context())
	})), time.Minute)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(RequestIDHeader, "outer-1")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if got != "outer-1" || len(w.Header()[RequestIDHeader]) != 1 {
		t.Errorf("id %q, header %q; want outer-1 once", got, w.Header()[RequestIDHeader])
	}
}
