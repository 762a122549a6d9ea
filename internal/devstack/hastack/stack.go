package hastack

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/seckill/seckill/internal/devstack"
	"github.com/seckill/seckill/internal/devstack/pgserver"
)

// Config describes the whole HA stack: the cluster and the services on it.
type Config struct {
	ClusterConfig
	// Bin holds the product, order and activity binaries.
	Bin string
	// MultiHost makes the services reach PostgreSQL with a multi-host
	// DATABASE_URL (the driver finds the leader) instead of through
	// HAProxy.
	MultiHost bool
	// Env is every service's environment beyond the database, the peers
	// and the credentials (later entries win).
	Env []string
	// AdminToken and ServiceToken are the services' credentials; empty
	// ones are made up.
	AdminToken, ServiceToken string
	// ProductPort and OrderPort fix those services' ports; 0 picks free
	// ones.
	ProductPort, OrderPort int
}

// Stack is the cluster and the services: one product and one order
// service, and an activity instance behind each of HAProxy's activity
// backends. Buyers reach the activity service at ActivityURL, through
// HAProxy.
type Stack struct {
	*Cluster
	Product, Order *devstack.Proc
	Activities     []*devstack.Proc
	ActivityURL    string
	DatabaseURL    string // what the services were given
	AdminToken     string
}

// Start starts the cluster, then the services on it, each waited for
// until /readyz answers.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	c, err := StartCluster(ctx, cfg.ClusterConfig)
	if err != nil {
		return nil, err
	}
	s := &Stack{Cluster: c, ActivityURL: "http://" + c.ActivityAddr, DatabaseURL: c.URL,
		AdminToken: or(cfg.AdminToken, token())}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if cfg.MultiHost {
		s.DatabaseURL = c.MultiHostURL
	}
	logTo := func(name string) io.Writer {
		if cfg.Log == nil {
			return nil
		}
		return cfg.Log(name)
	}
	service := or(cfg.ServiceToken, token())
	proc := func(name, path, addr string) *devstack.Proc {
		url := "http://" + addr
		p := &devstack.Proc{Name: name, URL: url, Path: path, ReadyURL: url + "/readyz", Log: logTo(name),
			Env: []string{"HTTP_ADDR=" + addr, "DATABASE_URL=" + s.DatabaseURL,
				"ADMIN_TOKEN=" + s.AdminToken, "SERVICE_TOKEN=" + service}}
		return p
	}
	addr := func(port int) (string, error) {
		var err error
		if port == 0 {
			port, err = pgserver.FreePort()
		}
		return fmt.Sprintf("127.0.0.1:%d", port), err
	}
	productAddr, err := addr(cfg.ProductPort)
	if err != nil {
		return nil, err
	}
	orderAddr, err := addr(cfg.OrderPort)
	if err != nil {
		return nil, err
	}
	s.Product = proc("product", cfg.Bin+"/product", productAddr)
	s.Order = proc("order", cfg.Bin+"/order", orderAddr)
	// Settlements reach whichever activity instance HAProxy picks.
	s.Order.Env = append(s.Order.Env, "ACTIVITY_SERVICE_URL="+s.ActivityURL)
	for i, addr := range c.ActivityBackends {
		a := proc(fmt.Sprintf("activity%d", i+1), cfg.Bin+"/activity", addr)
		a.Env = append(a.Env, "PRODUCT_SERVICE_URL="+s.Product.URL, "ORDER_SERVICE_URL="+s.Order.URL)
		s.Activities = append(s.Activities, a)
	}
	for _, p := range s.Procs() {
		p.Env = append(p.Env, defaultEnv...)
		p.Env = append(p.Env, cfg.Env...)
	}
	if err := s.StartServices(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// StartServices starts the services, each once the one before it answers
// /readyz, and returns when HAProxy sends buyers to every activity
// instance. Start calls it; a caller that stopped them (StopServices), to
// give the cluster to other clients for a while, starts them again here,
// at the same addresses.
func (s *Stack) StartServices(ctx context.Context) error {
	for _, p := range s.Procs() {
		if err := p.Start(ctx); err != nil {
			return err
		}
	}
	for _, a := range s.Activities {
		if err := s.WaitInRotation(ctx, a.Name, 30*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// defaultEnv is the services' settings in the HA stack beyond their
// defaults: an activity instance told to stop leaves HAProxy's rotation
// before it stops accepting (HAProxy marks a server down after two failed
// checks 500 ms apart).
var defaultEnv = []string{"SHUTDOWN_DRAIN=2s"}

// Procs returns the services in the order they start.
func (s *Stack) Procs() []*devstack.Proc {
	return append([]*devstack.Proc{s.Product, s.Order}, s.Activities...)
}

// StopServices stops the services, the activity instances first, and
// leaves the cluster running.
func (s *Stack) StopServices() {
	procs := s.Procs()
	for i := len(procs) - 1; i >= 0; i-- {
		if procs[i] != nil {
			procs[i].Stop()
		}
	}
}

// Stop stops the services, the activity instances first, then the cluster.
func (s *Stack) Stop() {
	s.StopServices()
	s.Cluster.Stop()
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
