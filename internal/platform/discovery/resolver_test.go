package discovery

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/seckill/seckill/internal/platform/httpx"
)

// testWatchConfig keeps back-offs and pauses short so tests run fast; the
// fake honours wait, and Close cancels a held query anyway.
func testWatchConfig() watchConfig {
	return watchConfig{
		wait:          5 * time.Second,
		minBackoff:    time.Millisecond,
		maxBackoff:    20 * time.Millisecond,
		idlePause:     time.Millisecond,
		lookupTimeout: 2 * time.Second,
	}
}

// startResolver returns a watching Resolver for service on f, closed at
// cleanup.
func startResolver(t *testing.T, f *fakeConsul, service string) *Resolver {
	t.Helper()
	r := newResolver(f.client(t), service, testWatchConfig())
	r.start()
	t.Cleanup(r.Close)
	return r
}

// resolveN calls Resolve n times and returns the URLs in order.
func resolveN(t *testing.T, r *Resolver, n int) []string {
	t.Helper()
	got := make([]string, 0, n)
	for range n {
		u, err := r.Resolve(context.Background())
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		got = append(got, u)
	}
	return got
}

// resolvedSet calls Resolve often enough to see every instance and returns
// the distinct URLs, sorted; on an error it returns nil.
func resolvedSet(r *Resolver) []string {
	var set []string
	for range 8 {
		u, err := r.Resolve(context.Background())
		if err != nil {
			return nil
		}
		if !slices.Contains(set, u) {
			set = append(set, u)
		}
	}
	slices.Sort(set)
	return set
}

func passing(id, addr string, port int) fakeInstance {
	return fakeInstance{ID: id, Node: "node-" + id, NodeAddress: "192.168.0.1", Address: addr, Port: port, Status: "passing"}
}

func critical(id, addr string, port int) fakeInstance {
	in := passing(id, addr, port)
	in.Status = "critical"
	return in
}

func TestInstanceURLs(t *testing.T) {
	entry := func(nodeAddr, svcAddr string, port int, statuses ...string) *api.ServiceEntry {
		e := &api.ServiceEntry{
			Node:    &api.Node{Node: "n", Address: nodeAddr},
			Service: &api.AgentService{ID: "s", Service: "product", Address: svcAddr, Port: port},
		}
		for _, s := range statuses {
			e.Checks = append(e.Checks, &api.HealthCheck{CheckID: "service:s", Status: s})
		}
		return e
	}
	tests := []struct {
		name    string
		entries []*api.ServiceEntry
		want    []string
	}{
		{"service address", []*api.ServiceEntry{entry("10.0.0.1", "10.0.0.5", 8503, "passing")}, []string{"http://10.0.0.5:8503"}},
		{"node address when service has none", []*api.ServiceEntry{entry("10.0.0.1", "", 8503, "passing")}, []string{"http://10.0.0.1:8503"}},
		{"IPv6 is bracketed", []*api.ServiceEntry{entry("", "fd00::5", 8503, "passing")}, []string{"http://[fd00::5]:8503"}},
		{"critical is skipped", []*api.ServiceEntry{entry("", "10.0.0.5", 8503, "passing", "critical")}, []string{}},
		{"warning is skipped", []*api.ServiceEntry{entry("", "10.0.0.5", 8503, "warning")}, []string{}},
		{"no address at all is skipped", []*api.ServiceEntry{entry("", "", 8503, "passing")}, []string{}},
		{"no port is skipped", []*api.ServiceEntry{entry("", "10.0.0.5", 0, "passing")}, []string{}},
		{"sorted and distinct", []*api.ServiceEntry{
			entry("", "10.0.0.6", 8503, "passing"),
			entry("", "10.0.0.5", 8503, "passing"),
			entry("", "10.0.0.6", 8503, "passing"),
		}, []string{"http://10.0.0.5:8503", "http://10.0.0.6:8503"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := instanceURLs(tt.entries); !slices.Equal(got, tt.want) {
				t.Errorf("instanceURLs = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestResolver_SpreadsCallsRoundRobin(t *testing.T) {
	f := newFakeConsul(t)
	f.set("product", passing("a", "10.0.0.5", 8503), passing("b", "10.0.0.6", 8503))
	r := startResolver(t, f, "product")

	got := resolveN(t, r, 6)
	for i, u := range got {
		if i >= 2 && u != got[i-2] {
			t.Errorf("call %d went to %s, want %s as two calls before (round-robin): %q", i, u, got[i-2], got)
		}
		if i >= 1 && u == got[i-1] {
			t.Errorf("calls %d and %d both went to %s: %q", i-1, i, u, got)
		}
	}
	set := slices.Sorted(slices.Values(got[:2]))
	if want := []string{"http://10.0.0.5:8503", "http://10.0.0.6:8503"}; !slices.Equal(set, want) {
		t.Errorf("instances used = %q, want %q", set, want)
	}
}

func TestResolver_NeverReturnsACriticalInstance(t *testing.T) {
	f := newFakeConsul(t)
	f.set("product", passing("a", "10.0.0.5", 8503), critical("b", "10.0.0.6", 8503), critical("c", "", 8503))
	r := startResolver(t, f, "product")

	for i, u := range resolveN(t, r, 10) {
		if got, want := u, "http://10.0.0.5:8503"; got != want {
			t.Errorf("call %d = %s, want %s", i, got, want)
		}
	}
}

func TestResolver_ErrorsWhenNoInstancePasses(t *testing.T) {
	tests := []struct {
		name      string
		instances []fakeInstance
	}{
		{"all critical", []fakeInstance{critical("a", "10.0.0.5", 8503), critical("b", "10.0.0.6", 8503)}},
		{"none registered", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeConsul(t)
			f.set("product", tt.instances...)
			r := startResolver(t, f, "product")

			u, err := r.Resolve(context.Background())
			if want := "no passing instance of product in Consul"; err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Resolve = %q, %v; want an error containing %q", u, err, want)
			}
		})
	}
}

func TestResolver_PicksUpChangesThroughBlockingQueries(t *testing.T) {
	a, b, c := passing("a", "10.0.0.5", 8503), passing("b", "10.0.0.6", 8503), passing("c", "10.0.0.7", 8503)
	tests := []struct {
		name   string
		before []fakeInstance
		after  []fakeInstance
		want   []string
	}{
		{
			name:   "an instance goes critical",
			before: []fakeInstance{a, b},
			after:  []fakeInstance{a, critical("b", "10.0.0.6", 8503)},
			want:   []string{"http://10.0.0.5:8503"},
		},
		{
			name:   "a new instance appears",
			before: []fakeInstance{a},
			after:  []fakeInstance{a, c},
			want:   []string{"http://10.0.0.5:8503", "http://10.0.0.7:8503"},
		},
		{
			name:   "the only instance is replaced",
			before: []fakeInstance{a},
			after:  []fakeInstance{c},
			want:   []string{"http://10.0.0.7:8503"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeConsul(t)
			f.set("product", tt.before...)
			r := startResolver(t, f, "product")
			// The change must arrive through a query the fake is holding,
			// not through a fresh lookup.
			waitFor(t, "a blocking query", func() bool { _, _, blocking := f.stats(); return blocking == 1 })
			f.set("product", tt.after...)
			waitFor(t, "the resolver to see the change", func() bool { return slices.Equal(resolvedSet(r), tt.want) })

			f.mu.Lock()
			defer f.mu.Unlock()
			if got := f.queries[len(f.queries)-1]; !strings.Contains(got, "index=") || !strings.Contains(got, "wait=5000ms") {
				t.Errorf("last health query = %q, want a blocking one with index and wait", got)
			}
		})
	}
}

func TestResolver_StartsOverWhenTheIndexGoesBackwards(t *testing.T) {
	f := newFakeConsul(t)
	for range 5 {
		f.set("product", passing("a", "10.0.0.5", 8503))
	}
	r := startResolver(t, f, "product")
	waitFor(t, "a blocking query", func() bool { _, _, blocking := f.stats(); return blocking == 1 })
	f.reset("product", passing("c", "10.0.0.7", 8503))
	want := []string{"http://10.0.0.7:8503"}
	waitFor(t, "the resolver to take the list of the reset agent", func() bool { return slices.Equal(resolvedSet(r), want) })
}

func TestResolver_KeepsLastGoodListWhileConsulFails(t *testing.T) {
	f := newFakeConsul(t)
	f.set("product", passing("a", "10.0.0.5", 8503))
	r := startResolver(t, f, "product")
	waitFor(t, "a blocking query", func() bool { _, _, blocking := f.stats(); return blocking == 1 })

	f.setFailing(true)
	// Several failures show the refresher retries after backing off.
	waitFor(t, "repeated failed queries", func() bool { _, failures, _ := f.stats(); return failures >= 3 })
	if got, want := resolvedSet(r), []string{"http://10.0.0.5:8503"}; !slices.Equal(got, want) {
		t.Errorf("while Consul fails, instances = %q, want the last good %q", got, want)
	}

	f.setFailing(false)
	f.set("product", passing("b", "10.0.0.6", 8503))
	waitFor(t, "recovery", func() bool { return slices.Equal(resolvedSet(r), []string{"http://10.0.0.6:8503"}) })
}

func TestResolver_FirstCallLooksUpOnceWhileNothingIsKnown(t *testing.T) {
	f := newFakeConsul(t)
	f.set("product", passing("a", "10.0.0.5", 8503))
	// Not started: only Resolve itself can ask Consul.
	r := newResolver(f.client(t), "product", testWatchConfig())
	t.Cleanup(r.Close)

	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			u, err := r.Resolve(context.Background())
			if err == nil && u != "http://10.0.0.5:8503" {
				err = fmt.Errorf("got %s, want http://10.0.0.5:8503", u)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Resolve: %v", err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if got, want := f.queries, []string{"passing=1"}; !slices.Equal(got, want) {
		t.Errorf("health queries = %q, want one non-blocking %q", got, want)
	}
}

func TestResolver_FirstCallFailsWhenConsulIsUnreachable(t *testing.T) {
	dead := httptest.NewServer(nil)
	dead.Close()
	c, err := newClient(dead.URL)
	if err != nil {
		t.Fatalf("newClient: %v", err)
	}
	r := newResolver(c, "product", testWatchConfig())
	t.Cleanup(r.Close)

	u, err := r.Resolve(context.Background())
	if want := "look up product in Consul"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Resolve = %q, %v; want an error containing %q", u, err, want)
	}
}

func TestResolver_FirstCallIsBoundedByTheContext(t *testing.T) {
	f := newFakeConsul(t)
	r := newResolver(f.client(t), "product", testWatchConfig())
	t.Cleanup(r.Close)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	if u, err := r.Resolve(ctx); err == nil {
		t.Fatalf("Resolve with a cancelled context = %q, want an error", u)
	}
	// The caller's impatience is not Consul's fault: the next call asks again.
	f.set("product", passing("a", "10.0.0.5", 8503))
	if got, want := resolveN(t, r, 1)[0], "http://10.0.0.5:8503"; got != want {
		t.Errorf("Resolve after a cancelled first call = %s, want %s", got, want)
	}
}

func TestResolver_CloseStopsTheRefresher(t *testing.T) {
	f := newFakeConsul(t)
	f.set("product", passing("a", "10.0.0.5", 8503))
	r := newResolver(f.client(t), "product", testWatchConfig())
	r.start()
	waitFor(t, "a blocking query", func() bool { _, _, blocking := f.stats(); return blocking == 1 })

	r.Close()
	select {
	case <-r.done:
	default:
		t.Fatal("the refresher is still running after Close returned")
	}
	// The query the fake was holding is abandoned, not left open.
	waitFor(t, "the held query to end", func() bool { _, _, blocking := f.stats(); return blocking == 0 })
	r.Close() // a second Close is harmless

	if got, want := resolveN(t, r, 1)[0], "http://10.0.0.5:8503"; got != want {
		t.Errorf("Resolve after Close = %s, want the last known %s", got, want)
	}
}

func TestResolver_ConcurrentUse(t *testing.T) {
	f := newFakeConsul(t)
	f.set("product", passing("a", "10.0.0.5", 8503), passing("b", "10.0.0.6", 8503))
	r := startResolver(t, f, "product")

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := r.Resolve(context.Background()); err != nil {
					t.Errorf("Resolve: %v", err)
					return
				}
			}
		})
	}
	for i := range 5 {
		f.set("product", passing("a", "10.0.0.5", 8503), passing("b", "10.0.0.6", 8503+i))
	}
	waitFor(t, "the last change", func() bool {
		return slices.Equal(resolvedSet(r), []string{"http://10.0.0.5:8503", "http://10.0.0.6:8507"})
	})
	close(stop)
	wg.Wait()
}

func TestNewResolver(t *testing.T) {
	f := newFakeConsul(t)
	f.set("product", passing("a", "10.0.0.5", 8503))
	tests := []struct {
		name        string
		consulAddr  string
		fallbackURL string
		wantStatic  bool
		wantURL     string
		wantErr     bool
	}{
		{name: "no Consul uses the fallback", fallbackURL: "http://localhost:8503", wantStatic: true, wantURL: "http://localhost:8503"},
		{name: "no Consul and no fallback", wantErr: true},
		{name: "Consul with scheme", consulAddr: f.srv.URL, fallbackURL: "http://localhost:8503", wantURL: "http://10.0.0.5:8503"},
		{name: "Consul as host:port", consulAddr: strings.TrimPrefix(f.srv.URL, "http://"), wantURL: "http://10.0.0.5:8503"},
		{name: "Consul with unknown scheme", consulAddr: "ftp://consul:8500", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, closeFn, err := NewResolver(tt.consulAddr, "product", tt.fallbackURL)
			if tt.wantErr {
				if err == nil {
					closeFn()
					t.Fatal("NewResolver succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("NewResolver: %v", err)
			}
			t.Cleanup(closeFn)
			if _, static := res.(httpx.StaticURL); static != tt.wantStatic {
				t.Errorf("resolver is %T, want static = %v", res, tt.wantStatic)
			}
			u, err := res.Resolve(context.Background())
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if got, want := u, tt.wantURL; got != want {
				t.Errorf("Resolve = %s, want %s", got, want)
			}
		})
	}
}
