package discovery

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// fakeInstance is one service instance in the fake catalog.
type fakeInstance struct {
	ID, Node, NodeAddress, Address string
	Port                           int
	Status                         string // "passing" or "critical"
}

// wireRegistration is the body of PUT /v1/agent/service/register as
// Consul's HTTP API documents it. It is declared here, not taken from
// consul/api, so the tests check what goes over the wire.
type wireRegistration struct {
	ID      string
	Name    string
	Address string
	Port    int
	Tags    []string
	Check   struct {
		HTTP                           string
		Method                         string
		Interval                       string
		Timeout                        string
		DeregisterCriticalServiceAfter string
	}
}

// fakeConsul speaks the agent and health endpoints of Consul's HTTP API,
// including blocking queries on /v1/health/service/<name>.
type fakeConsul struct {
	srv *httptest.Server

	mu           sync.Mutex
	index        uint64
	instances    map[string][]fakeInstance // by service name
	changed      chan struct{}             // closed and replaced on every change
	failing      bool                      // every endpoint answers 500
	wasReset     bool                      // the index went backwards: held queries answer at once
	registered   []wireRegistration
	replaceQuery []string // the replace-existing-checks parameter of each registration
	deregistered []string
	queries      []string // the raw query of each health request
	failures     int      // health requests answered 500
	blocking     int      // health requests being held open now
}

// newFakeConsul starts a fake Consul that the test closes at cleanup.
func newFakeConsul(t *testing.T) *fakeConsul {
	t.Helper()
	f := &fakeConsul{index: 1, instances: map[string][]fakeInstance{}, changed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /v1/agent/service/register", f.handleRegister)
	mux.HandleFunc("PUT /v1/agent/service/deregister/{id}", f.handleDeregister)
	mux.HandleFunc("GET /v1/health/service/{name}", f.handleHealth)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// client returns a consul/api client for the fake.
func (f *fakeConsul) client(t *testing.T) *api.Client {
	t.Helper()
	c, err := newClient(f.srv.URL)
	if err != nil {
		t.Fatalf("newClient(%q): %v", f.srv.URL, err)
	}
	return c
}

// set replaces the instances of service and wakes blocked queries.
func (f *fakeConsul) set(service string, instances ...fakeInstance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.instances[service] = instances
	f.index++
	f.wakeLocked()
}

// reset replaces the instances of service and sets the index back to 1, as
// a Consul agent that lost its state does; queries held on an index it no
// longer knows answer at once with the lower index (Consul's documentation
// tells clients to expect an index that goes backwards and start over).
func (f *fakeConsul) reset(service string, instances ...fakeInstance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.instances[service] = instances
	f.index = 1
	f.wasReset = true
	f.wakeLocked()
}

// setFailing makes every endpoint fail, or work again, and wakes blocked
// queries so they answer accordingly.
func (f *fakeConsul) setFailing(failing bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failing = failing
	f.wakeLocked()
}

func (f *fakeConsul) wakeLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// stats returns the counters a test waits on.
func (f *fakeConsul) stats() (queries, failures, blocking int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queries), f.failures, f.blocking
}

func (f *fakeConsul) handleRegister(w http.ResponseWriter, r *http.Request) {
	var reg wireRegistration
	if err := json.NewDecoder(r.Body).Decode(&reg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failing {
		http.Error(w, "agent unavailable", http.StatusInternalServerError)
		return
	}
	f.registered = append(f.registered, reg)
	f.replaceQuery = append(f.replaceQuery, r.URL.Query().Get("replace-existing-checks"))
}

func (f *fakeConsul) handleDeregister(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failing {
		http.Error(w, "agent unavailable", http.StatusInternalServerError)
		return
	}
	f.deregistered = append(f.deregistered, r.URL.Path)
}

// handleHealth serves GET /v1/health/service/<name>. With ?index= at or past
// the current index it blocks until the catalog changes, ?wait= elapses
// (Consul's default is five minutes) or the client goes away.
func (f *fakeConsul) handleHealth(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	passingOnly := q.Has("passing") && q.Get("passing") != "0" && q.Get("passing") != "false"
	var reqIndex uint64
	if s := q.Get("index"); s != "" {
		var err error
		if reqIndex, err = strconv.ParseUint(s, 10, 64); err != nil {
			http.Error(w, "bad index", http.StatusBadRequest)
			return
		}
	}
	wait := 5 * time.Minute
	if s := q.Get("wait"); s != "" {
		var err error
		if wait, err = time.ParseDuration(s); err != nil {
			http.Error(w, "bad wait", http.StatusBadRequest)
			return
		}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, r.URL.RawQuery)
	if reqIndex > 0 && reqIndex >= f.index && !f.failing && !f.wasReset {
		f.blocking++
		timer := time.NewTimer(wait)
		defer timer.Stop()
	hold:
		for reqIndex >= f.index && !f.failing && !f.wasReset {
			changed := f.changed
			f.mu.Unlock()
			select {
			case <-changed:
				f.mu.Lock()
			case <-timer.C:
				f.mu.Lock()
				break hold
			case <-r.Context().Done():
				f.mu.Lock()
				break hold
			}
		}
		f.blocking--
	}
	if f.failing {
		f.failures++
		http.Error(w, "rpc error: no cluster leader", http.StatusInternalServerError)
		return
	}

	type node struct{ Node, Address string }
	type service struct {
		ID, Service, Address string
		Port                 int
	}
	type check struct{ Node, CheckID, ServiceID, Status string }
	type entry struct {
		Node    node
		Service service
		Checks  []check
	}
	name := r.PathValue("name")
	entries := []entry{}
	for _, in := range f.instances[name] {
		if passingOnly && in.Status != "passing" {
			continue
		}
		entries = append(entries, entry{
			Node:    node{Node: in.Node, Address: in.NodeAddress},
			Service: service{ID: in.ID, Service: name, Address: in.Address, Port: in.Port},
			Checks: []check{
				{Node: in.Node, CheckID: "serfHealth", Status: "passing"},
				{Node: in.Node, CheckID: "service:" + in.ID, ServiceID: in.ID, Status: in.Status},
			},
		})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Consul-Index", strconv.FormatUint(f.index, 10))
	_ = json.NewEncoder(w).Encode(entries)
}

// waitFor polls cond every few milliseconds until it holds, failing the test
// after five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}
