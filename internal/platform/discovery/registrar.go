package discovery

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/hashicorp/consul/api"
)

// The health check Consul runs against every registered instance. Consul
// drops an instance that stays critical for deregisterAfter, so a crashed
// process that never deregistered does not linger in the catalog.
const (
	healthPath      = "/healthz"
	checkInterval   = "5s"
	checkTimeout    = "2s"
	deregisterAfter = "1m"
)

// Registration describes one instance of a service as Consul should know it.
type Registration struct {
	// Name is the service name peers look up, such as "product".
	Name string
	// ID identifies this instance in Consul. When empty it is
	// "<name>-<address>-<port>", which is stable across restarts so a
	// restarted instance replaces its old entry instead of adding a second.
	ID string
	// Address is the host peers and the health check reach this instance
	// on; it must not be a wildcard such as 0.0.0.0 (see AdvertiseAddr).
	Address string
	// Port is the instance's HTTP port.
	Port int
	// Tags are free-form labels shown in Consul.
	Tags []string
}

// serviceID returns the instance ID, defaulting as Registration.ID says.
func (reg Registration) serviceID() string {
	if reg.ID != "" {
		return reg.ID
	}
	return reg.Name + "-" + reg.Address + "-" + strconv.Itoa(reg.Port)
}

// valid reports the first problem with reg, or nil.
func (reg Registration) valid() error {
	switch {
	case reg.Name == "":
		return fmt.Errorf("service name is empty")
	case reg.Address == "":
		return fmt.Errorf("address is empty")
	case isWildcard(reg.Address):
		return fmt.Errorf("address %q is a wildcard, not one peers can reach", reg.Address)
	case reg.Port <= 0 || reg.Port > 65535:
		return fmt.Errorf("port %d is out of range", reg.Port)
	}
	return nil
}

// Registrar registers one service instance with the local Consul agent and
// deregisters it at shutdown. It is safe for concurrent use.
type Registrar struct {
	agent *api.Agent

	mu sync.Mutex
	id string // the instance last registered; empty when none
}

// NewRegistrar returns a Registrar that talks to the Consul agent at
// consulAddr ("host:port" or "http://host:port", as in CONSUL_HTTP_ADDR).
func NewRegistrar(consulAddr string) (*Registrar, error) {
	c, err := newClient(consulAddr)
	if err != nil {
		return nil, fmt.Errorf("new registrar: %w", err)
	}
	return &Registrar{agent: c.Agent()}, nil
}

// Register registers reg with the agent (PUT /v1/agent/service/register),
// with an HTTP health check on http://<address>:<port>/healthz. Registering
// again replaces the instance and its checks.
func (r *Registrar) Register(ctx context.Context, reg Registration) error {
	if err := reg.valid(); err != nil {
		return fmt.Errorf("register %s: %w", reg.Name, err)
	}
	id := reg.serviceID()
	hostPort := net.JoinHostPort(reg.Address, strconv.Itoa(reg.Port))
	svc := &api.AgentServiceRegistration{
		ID:      id,
		Name:    reg.Name,
		Tags:    reg.Tags,
		Address: reg.Address,
		Port:    reg.Port,
		Check: &api.AgentServiceCheck{
			Name:                           reg.Name + " HTTP " + healthPath,
			HTTP:                           "http://" + hostPort + healthPath,
			Method:                         "GET",
			Interval:                       checkInterval,
			Timeout:                        checkTimeout,
			DeregisterCriticalServiceAfter: deregisterAfter,
		},
	}
	// ReplaceExistingChecks makes re-registration idempotent: checks from
	// an earlier registration of the same ID do not pile up.
	opts := api.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(ctx)
	if err := r.agent.ServiceRegisterOpts(svc, opts); err != nil {
		return fmt.Errorf("register %s as %s with Consul: %w", reg.Name, id, err)
	}
	r.mu.Lock()
	r.id = id
	r.mu.Unlock()
	return nil
}

// Deregister removes the instance last registered
// (PUT /v1/agent/service/deregister/<id>). It does nothing when nothing was
// registered, so shutdown can call it unconditionally.
func (r *Registrar) Deregister(ctx context.Context) error {
	r.mu.Lock()
	id := r.id
	r.mu.Unlock()
	if id == "" {
		return nil
	}
	q := (&api.QueryOptions{}).WithContext(ctx)
	if err := r.agent.ServiceDeregisterOpts(id, q); err != nil {
		return fmt.Errorf("deregister %s from Consul: %w", id, err)
	}
	r.mu.Lock()
	if r.id == id {
		r.id = ""
	}
	r.mu.Unlock()
	return nil
}

// AdvertiseAddr returns the host and port to register for a server listening
// on listenAddr (such as ":8503"). A non-empty advertise wins; otherwise the
// listen host is used, unless it is empty or a wildcard, which peers cannot
// dial, and then it is an error: only the caller knows the reachable name.
func AdvertiseAddr(listenAddr, advertise string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return "", 0, fmt.Errorf("advertise address from %q: %w", listenAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("advertise address from %q: bad port %q", listenAddr, portStr)
	}
	if advertise != "" {
		return advertise, port, nil
	}
	if host == "" || isWildcard(host) {
		return "", 0, fmt.Errorf("listen address %q has no host peers can reach: set an advertise address", listenAddr)
	}
	return host, port, nil
}

// isWildcard reports whether host is an unspecified address (0.0.0.0, ::).
func isWildcard(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}
