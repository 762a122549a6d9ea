// Package discovery registers a service with the local Consul agent and
// resolves a peer service to the base URL of one of its passing instances.
// It knows only service names, addresses and ports, nothing of what the
// services do.
package discovery

import (
	"fmt"
	"strings"

	"github.com/hashicorp/consul/api"

	"github.com/seckill/seckill/internal/platform/httpx"
)

// newClient returns a Consul API client for consulAddr, which takes the
// forms CONSUL_HTTP_ADDR takes: "host:port" or "scheme://host:port". The
// Config is built here rather than with api.DefaultConfig so the address
// comes from the caller, not from the environment.
func newClient(consulAddr string) (*api.Client, error) {
	if strings.TrimSpace(consulAddr) == "" {
		return nil, fmt.Errorf("consul client: empty address")
	}
	c, err := api.NewClient(&api.Config{Address: consulAddr})
	if err != nil {
		return nil, fmt.Errorf("consul client for %q: %w", consulAddr, err)
	}
	return c, nil
}

// NewResolver returns the resolver a client of service should use, and a
// function that releases it. With consulAddr empty, discovery is off and the
// resolver always answers fallbackURL; otherwise it follows the passing
// instances of service in Consul until the release function is called.
func NewResolver(consulAddr, service, fallbackURL string) (httpx.Resolver, func(), error) {
	if consulAddr == "" {
		if fallbackURL == "" {
			return nil, nil, fmt.Errorf("resolver for %s: neither a Consul address nor a fallback URL", service)
		}
		return httpx.StaticURL(fallbackURL), func() {}, nil
	}
	r, err := NewConsulResolver(consulAddr, service)
	if err != nil {
		return nil, nil, err
	}
	return r, r.Close, nil
}
