// Package ha holds the configuration of the high-availability deployment:
// Patroni's, HAProxy's and HAProxy's error pages, shared by the local HA
// stack (internal/devstack/hastack, `make run-ha`, `make test-ha`) and
// docker-compose.ha.yml, so both run what is tested.
package ha

import "embed"

// Files are patroni.yml, post_init.sh, haproxy.cfg and errors/*.http.
//
//go:embed patroni.yml post_init.sh haproxy.cfg errors/*.http
var Files embed.FS
