package activity_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/activity"
	"github.com/seckill/seckill/internal/product"
	"github.com/seckill/seckill/internal/testing/pgtest"
	"github.com/seckill/seckill/internal/testing/svctest"
)

// fakeConsul speaks the agent and health endpoints the services use, with
// the payloads Consul's HTTP API documents.
type fakeConsul struct {
	mu           sync.Mutex
	services     map[string]map[string]any // service id → registration body
	deregistered []string
	// servingAtDeregister records, for each deregistration, whether the
	// service still answered its health check when Consul was told.
	servingAtDeregister []bool
}

func (f *fakeConsul) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == "PUT" && r.URL.Path == "/v1/agent/service/register":
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		f.services[body["ID"].(string)] = body
	case r.Method == "PUT" && strings.HasPrefix(r.URL.Path, "/v1/agent/service/deregister/"):
		id := strings.TrimPrefix(r.URL.Path, "/v1/agent/service/deregister/")
		serving := false
		if check, ok := f.services[id]["Check"].(map[string]any); ok {
			c := http.Client{Timeout: 2 * time.Second}
			if resp, err := c.Get(fmt.Sprint(check["HTTP"])); err == nil {
				resp.Body.Close()
				serving = resp.StatusCode == 200
			}
		}
		f.servingAtDeregister = append(f.servingAtDeregister, serving)
		delete(f.services, id)
		f.deregistered = append(f.deregistered, id)
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/v1/health/service/"):
		name := strings.TrimPrefix(r.URL.Path, "/v1/health/service/")
		entries := []map[string]any{}
		for id, s := range f.services {
			if s["Name"] != name {
				continue
			}
			entries = append(entries, map[string]any{
				"Node":    map[string]any{"Node": "local", "Address": "127.0.0.1"},
				"Service": map[string]any{"ID": id, "Service": name, "Address": s["Address"], "Port": s["Port"]},
				"Checks":  []map[string]any{{"Status": "passing", "ServiceID": id}},
			})
		}
		w.Header().Set("X-Consul-Index", "1")
		if r.URL.Query().Get("index") == "1" {
			// A blocking query with nothing new: answer when the wait is
			// over, as Consul does, but no later than the client gives up.
			select {
			case <-r.Context().Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
		_ = json.NewEncoder(w).Encode(entries)
	default:
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, 404)
	}
}

func (f *fakeConsul) registered(name string) (map[string]any, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.services {
		if s["Name"] == name {
			return s, true
		}
	}
	return nil, false
}

func TestConsul_RegisterResolveDeregister(t *testing.T) {
	consul := &fakeConsul{services: map[string]map[string]any{}}
	cs := httptest.NewServer(consul)
	defer cs.Close()
	url := pgtest.NewDB(t)

	p := svctest.Start(t, product.Run, map[string]string{"DATABASE_URL": url, "CONSUL_HTTP_ADDR": cs.URL})
	reg, ok := consul.registered("product")
	if !ok {
		t.Fatal("product did not register")
	}
	// Consul knows the service's own address, not the checking proxy's.
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(p.Direct, "http://"))
	if got, want := fmt.Sprint(reg["Port"]), port; got != want {
		t.Errorf("registered port %s, want %s", got, want)
	}
	check, _ := reg["Check"].(map[string]any)
	if got, want := check["HTTP"], "http://127.0.0.1:"+port+"/healthz"; got != want {
		t.Errorf("health check %v, want %s", got, want)
	}

	// The activity service knows the product service only through Consul.
	a := svctest.Start(t, activity.Run, map[string]string{"DATABASE_URL": url, "CONSUL_HTTP_ADDR": cs.URL,
		"PRODUCT_SERVICE_URL": "http://127.0.0.1:1", "ORDER_SERVICE_URL": "http://127.0.0.1:1"})
	r := svctest.Do(t, "POST", p.URL+"/products", `{"name":"via consul","price":1,"inventory":3}`)
	pid := svctest.Int(r.Data()["id"])
	r = svctest.Do(t, "POST", a.URL+"/activities", map[string]any{"name": "c", "product_id": pid, "stock": 2,
		"start_time": time.Now().Format(time.RFC3339), "end_time": time.Now().Add(time.Hour).Format(time.RFC3339)})
	if r.Status != 201 {
		t.Fatalf("create activity through a Consul-resolved product service: %d %s", r.Status, r.Raw)
	}

	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, ok := consul.registered("product"); ok {
		t.Error("product still registered after a graceful shutdown")
	}
	consul.mu.Lock()
	defer consul.mu.Unlock()
	if len(consul.deregistered) != 1 || !strings.HasPrefix(consul.deregistered[0], "product-") {
		t.Errorf("deregistered %v, want one product id", consul.deregistered)
	}
	// Consul is told before the server stops accepting, so it sends no
	// traffic to a service that no longer answers.
	if len(consul.servingAtDeregister) != 1 || !consul.servingAtDeregister[0] {
		t.Errorf("still serving when deregistered: %v, want [true]", consul.servingAtDeregister)
	}
}
