package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/seckill/seckill/internal/devstack/pgserver"
)

// Config describes the three services of a stack.
type Config struct {
	// Bin is the directory holding the product, order and activity
	// binaries (make build puts them in bin/).
	Bin         string
	DatabaseURL string
	// Ports fixes a service's port by name; a service missing from it
	// gets a free one.
	Ports map[string]int
	// Env is every service's environment beyond the database and the
	// peers' URLs, after the defaults (later entries win).
	Env []string
	// Log, when not nil, returns where a service's output goes besides
	// the tail each Proc keeps.
	Log func(service string) io.Writer
	// AdminToken and ServiceToken are the credentials every service
	// runs with; empty ones are made up at random for this stack.
	AdminToken, ServiceToken string
}

// Stack is the three services, each a Proc.
type Stack struct {
	Product, Order, Activity *Proc
	// AdminToken is what callers send to create and change products and
	// activities and to read every order; ServiceToken what services send
	// one another.
	AdminToken, ServiceToken string
}

// New prepares the services of cfg, their ports chosen, without starting
// them.
func New(cfg Config) (*Stack, error) {
	port := func(name string) (int, error) {
		if p := cfg.Ports[name]; p != 0 {
			// Another process answering there would pass for this
			// service's readiness.
			if !Free(p) {
				return 0, fmt.Errorf("port %d for the %s service is taken", p, name)
			}
			return p, nil
		}
		return pgserver.FreePort()
	}
	proc := func(name string) (*Proc, error) {
		n, err := port(name)
		if err != nil {
			return nil, err
		}
		url := fmt.Sprintf("http://127.0.0.1:%d", n)
		p := &Proc{Name: name, URL: url, Path: filepath.Join(cfg.Bin, name), ReadyURL: url + "/readyz",
			Env: []string{fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", n), "DATABASE_URL=" + cfg.DatabaseURL}}
		if cfg.Log != nil {
			p.Log = cfg.Log(name)
		}
		return p, nil
	}
	s := Stack{AdminToken: cfg.AdminToken, ServiceToken: cfg.ServiceToken}
	if s.AdminToken == "" {
		s.AdminToken = randomToken()
	}
	if s.ServiceToken == "" {
		s.ServiceToken = randomToken()
	}
	var err error
	if s.Product, err = proc("product"); err != nil {
		return nil, err
	}
	if s.Order, err = proc("order"); err != nil {
		return nil, err
	}
	if s.Activity, err = proc("activity"); err != nil {
		return nil, err
	}
	s.Activity.Env = append(s.Activity.Env, "PRODUCT_SERVICE_URL="+s.Product.URL, "ORDER_SERVICE_URL="+s.Order.URL)
	// The order service reports settlements to the activity service; it
	// starts first, and its relay retries until the activity is up.
	s.Order.Env = append(s.Order.Env, "ACTIVITY_SERVICE_URL="+s.Activity.URL)
	for _, p := range s.Procs() {
		p.Env = append(p.Env, "ADMIN_TOKEN="+s.AdminToken, "SERVICE_TOKEN="+s.ServiceToken)
		p.Env = append(p.Env, cfg.Env...)
	}
	return &s, nil
}

// Start prepares the stack and starts it, each service once the one
// before it is ready (the activity service, which calls the others, last).
// When one fails, those started are stopped.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	for _, p := range s.Procs() {
		if err := p.Start(ctx); err != nil {
			s.Stop()
			if _, statErr := os.Stat(p.Path); statErr != nil {
				return nil, fmt.Errorf("%w (run make build first)", statErr)
			}
			return nil, err
		}
	}
	return s, nil
}

// randomToken returns 192 random bits in hex.
func randomToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail on Linux
	return hex.EncodeToString(b[:])
}

// Procs returns the services in the order they start.
func (s *Stack) Procs() []*Proc { return []*Proc{s.Product, s.Order, s.Activity} }

// URLs returns each service's base URL by name.
func (s *Stack) URLs() map[string]string {
	return map[string]string{"product": s.Product.URL, "order": s.Order.URL, "activity": s.Activity.URL}
}

// Stop stops the services gracefully, the last started first.
func (s *Stack) Stop() {
	procs := s.Procs()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop()
	}
}

// Kill kills whatever still runs, as a test's clean-up does.
func (s *Stack) Kill() {
	for _, p := range s.Procs() {
		if !p.Exited() {
			p.Kill()
		}
	}
}

// Wait blocks until ctx ends (nil) or a service exits (an error with its
// last lines).
func (s *Stack) Wait(ctx context.Context) error {
	exited := make(chan *Proc, 3)
	for _, p := range s.Procs() {
		go func() {
			select {
			case <-p.Done():
				exited <- p
			case <-ctx.Done():
			}
		}()
	}
	select {
	case <-ctx.Done():
		return nil
	case p := <-exited:
		return fmt.Errorf("the %s service exited (%v); its last lines:\n%s", p.Name, p.Err(), LastLines(p.Output(), 20))
	}
}
