package discovery

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// newTestRegistrar returns a Registrar talking to f.
func newTestRegistrar(t *testing.T, f *fakeConsul) *Registrar {
	t.Helper()
	r, err := NewRegistrar(f.srv.URL)
	if err != nil {
		t.Fatalf("NewRegistrar: %v", err)
	}
	return r
}

func TestRegistrar_RegisterSendsServiceAndHealthCheck(t *testing.T) {
	tests := []struct {
		name     string
		reg      Registration
		wantID   string
		wantHTTP string
	}{
		{
			name:     "ID defaults to name, address and port",
			reg:      Registration{Name: "product", Address: "10.0.0.5", Port: 8503, Tags: []string{"v1"}},
			wantID:   "product-10.0.0.5-8503",
			wantHTTP: "http://10.0.0.5:8503/healthz",
		},
		{
			name:     "explicit ID is kept",
			reg:      Registration{Name: "order", ID: "order-7f3a", Address: "order", Port: 8505},
			wantID:   "order-7f3a",
			wantHTTP: "http://order:8505/healthz",
		},
		{
			name:     "IPv6 address is bracketed in the check URL",
			reg:      Registration{Name: "activity", Address: "fd00::5", Port: 8504},
			wantID:   "activity-fd00::5-8504",
			wantHTTP: "http://[fd00::5]:8504/healthz",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeConsul(t)
			r := newTestRegistrar(t, f)
			if err := r.Register(context.Background(), tt.reg); err != nil {
				t.Fatalf("Register: %v", err)
			}
			if got, want := len(f.registered), 1; got != want {
				t.Fatalf("registrations = %d, want %d", got, want)
			}
			got := f.registered[0]
			for _, c := range []struct{ field, got, want string }{
				{"Name", got.Name, tt.reg.Name},
				{"ID", got.ID, tt.wantID},
				{"Address", got.Address, tt.reg.Address},
				{"Check.HTTP", got.Check.HTTP, tt.wantHTTP},
				{"Check.Method", got.Check.Method, "GET"},
				{"Check.Interval", got.Check.Interval, "5s"},
				{"Check.Timeout", got.Check.Timeout, "2s"},
				{"Check.DeregisterCriticalServiceAfter", got.Check.DeregisterCriticalServiceAfter, "1m"},
				{"replace-existing-checks", f.replaceQuery[0], "true"},
			} {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
				}
			}
			if got, want := got.Port, tt.reg.Port; got != want {
				t.Errorf("Port = %d, want %d", got, want)
			}
			if got, want := got.Tags, tt.reg.Tags; !slices.Equal(got, want) {
				t.Errorf("Tags = %q, want %q", got, want)
			}
		})
	}
}

func TestRegistrar_RegisterRejectsUnreachableRegistration(t *testing.T) {
	tests := []struct {
		name string
		reg  Registration
		want string
	}{
		{"no name", Registration{Address: "10.0.0.5", Port: 8503}, "service name is empty"},
		{"no address", Registration{Name: "product", Port: 8503}, "address is empty"},
		{"IPv4 wildcard", Registration{Name: "product", Address: "0.0.0.0", Port: 8503}, "wildcard"},
		{"IPv6 wildcard", Registration{Name: "product", Address: "::", Port: 8503}, "wildcard"},
		{"no port", Registration{Name: "product", Address: "10.0.0.5"}, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeConsul(t)
			r := newTestRegistrar(t, f)
			err := r.Register(context.Background(), tt.reg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Register error = %v, want one containing %q", err, tt.want)
			}
			if got := len(f.registered); got != 0 {
				t.Errorf("registrations sent = %d, want 0", got)
			}
		})
	}
}

func TestRegistrar_RegisterReportsAgentError(t *testing.T) {
	f := newFakeConsul(t)
	f.setFailing(true)
	r := newTestRegistrar(t, f)
	err := r.Register(context.Background(), Registration{Name: "product", Address: "10.0.0.5", Port: 8503})
	if err == nil || !strings.Contains(err.Error(), "register product as product-10.0.0.5-8503") {
		t.Fatalf("Register error = %v, want one naming the service and ID", err)
	}
	// Nothing was registered, so there is nothing to deregister.
	if err := r.Deregister(context.Background()); err != nil {
		t.Fatalf("Deregister after failed Register: %v", err)
	}
}

func TestRegistrar_RegisterGivesUpWithItsContext(t *testing.T) {
	// An agent that takes the request and never answers.
	hold := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hold }))
	defer silent.Close()
	defer close(hold)
	r, err := NewRegistrar(silent.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Register(ctx, Registration{Name: "product", Address: "10.0.0.5", Port: 8503}) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Register succeeded against an agent that never answered")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Register still waiting 10s after its context ended")
	}
}

func TestRegistrar_DeregisterRemovesTheRegisteredInstance(t *testing.T) {
	f := newFakeConsul(t)
	r := newTestRegistrar(t, f)
	ctx := context.Background()
	if err := r.Register(ctx, Registration{Name: "product", Address: "10.0.0.5", Port: 8503}); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if err := r.Deregister(ctx); err != nil {
		t.Fatalf("Deregister: %v", err)
	}
	// A second Deregister has nothing left to remove and sends nothing.
	if err := r.Deregister(ctx); err != nil {
		t.Fatalf("second Deregister: %v", err)
	}
	if got, want := f.deregistered, []string{"/v1/agent/service/deregister/product-10.0.0.5-8503"}; !slices.Equal(got, want) {
		t.Errorf("deregistration paths = %q, want %q", got, want)
	}
}

func TestRegistrar_DeregisterWithoutRegisterSendsNothing(t *testing.T) {
	f := newFakeConsul(t)
	r := newTestRegistrar(t, f)
	if err := r.Deregister(context.Background()); err != nil {
		t.Fatalf("Deregister: %v", err)
	}
	if got := len(f.deregistered); got != 0 {
		t.Errorf("deregistrations sent = %d, want 0", got)
	}
}

func TestNewRegistrar_RequiresAnAddress(t *testing.T) {
	if _, err := NewRegistrar(""); err == nil {
		t.Fatal("NewRegistrar(\"\") succeeded, want an error")
	}
}

func TestAdvertiseAddr(t *testing.T) {
	tests := []struct {
		listen, advertise string
		wantHost          string
		wantPort          int
		wantErr           bool
	}{
		{listen: ":8503", advertise: "10.0.0.5", wantHost: "10.0.0.5", wantPort: 8503},
		{listen: "0.0.0.0:8504", advertise: "activity", wantHost: "activity", wantPort: 8504},
		{listen: "[::]:8505", advertise: "order", wantHost: "order", wantPort: 8505},
		{listen: "10.1.1.1:8503", wantHost: "10.1.1.1", wantPort: 8503},
		{listen: "product:8503", wantHost: "product", wantPort: 8503},
		{listen: ":8503", wantErr: true},
		{listen: "0.0.0.0:8503", wantErr: true},
		{listen: "[::]:8503", wantErr: true},
		{listen: "8503", advertise: "10.0.0.5", wantErr: true},
		{listen: ":http", advertise: "10.0.0.5", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.listen+"/"+tt.advertise, func(t *testing.T) {
			host, port, err := AdvertiseAddr(tt.listen, tt.advertise)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("AdvertiseAddr(%q, %q) = %q, %d, want an error", tt.listen, tt.advertise, host, port)
				}
				return
			}
			if err != nil {
				t.Fatalf("AdvertiseAddr(%q, %q): %v", tt.listen, tt.advertise, err)
			}
			if got, want := host, tt.wantHost; got != want {
				t.Errorf("host = %q, want %q", got, want)
			}
			if got, want := port, tt.wantPort; got != want {
				t.Errorf("port = %d, want %d", got, want)
			}
		})
	}
}
