package deployments

import (
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// haSecrets are what docker-compose.ha.yml cannot run without: the tokens
// and the cluster's three passwords.
const haSecrets = tokens + "PG_SUPERUSER_PASSWORD=compose-test-superuser\nPG_REPLICATION_PASSWORD=compose-test-replication\n" +
	"SECKILL_DB_PASSWORD=compose-test-seckill\n"

// loadBothHA is loadBoth for docker-compose.ha.yml.
func loadBothHA(t *testing.T) map[string]*types.Project {
	t.Helper()
	raw, err := os.ReadFile("../.env_template")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*types.Project{
		"secrets only": loadFile(t, "docker-compose.ha.yml", dotEnv(t, haSecrets)),
		"with .env":    loadFile(t, "docker-compose.ha.yml", dotEnv(t, string(raw)+haSecrets)),
	}
}

// Each secret is required on its own: with .env_template and every other
// one set, compose refuses to start and names the missing one.
func TestComposeHA_RefusesToRunWithoutEachSecret(t *testing.T) {
	raw, err := os.ReadFile("../.env_template")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ADMIN_TOKEN", "SERVICE_TOKEN", "PG_SUPERUSER_PASSWORD", "PG_REPLICATION_PASSWORD", "SECKILL_DB_PASSWORD"} {
		var others []string
		for _, line := range strings.Split(haSecrets, "\n") {
			if line != "" && !strings.HasPrefix(line, name+"=") {
				others = append(others, line)
			}
		}
		env := dotEnv(t, string(raw)+"\n"+strings.Join(others, "\n")+"\n")
		if _, err := loadProject("docker-compose.ha.yml", env); err == nil || !strings.Contains(err.Error(), "required variable "+name+" is missing") {
			t.Errorf("loaded without %s (err %v), want a refusal naming it", name, err)
		}
	}
}

// pinned matches an image reference whose tag names a version: a tag, not
// latest, with a digit in it (postgres:15.13-bookworm, haproxy:2.6.12).
var pinned = regexp.MustCompile(`^[^:@]+(?::[0-9]+)?(?:/[^:@]+)*:[^:/@]*[0-9][^:/@]*$`)

func TestCompose_EveryImageIsPinned(t *testing.T) {
	projects := map[string]*types.Project{
		"docker-compose.yml":    load(t, dotEnv(t, tokens)),
		"docker-compose.ha.yml": loadFile(t, "docker-compose.ha.yml", dotEnv(t, haSecrets)),
	}
	for file, c := range projects {
		for name, s := range c.Services {
			switch {
			case s.Image != "":
				if !pinned.MatchString(s.Image) || strings.HasSuffix(s.Image, ":latest") {
					t.Errorf("%s: %s runs %s, want a tag with a version", file, name, s.Image)
				}
			case s.Build == nil:
				t.Errorf("%s: %s has neither an image nor a build", file, name)
			default:
				if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
					t.Errorf("%s: %s: %v", file, name, err)
				}
			}
		}
	}
	for _, bad := range []string{"postgres", "postgres:latest", "postgres:bookworm", "haproxy:lts"} {
		if pinned.MatchString(bad) && !strings.HasSuffix(bad, ":latest") {
			t.Errorf("pinned accepts %q", bad)
		}
	}
	// The Patroni image's base too: PostgreSQL 15, a minor release, on the
	// Debian release whose Patroni the Dockerfile installs.
	raw, err := os.ReadFile("ha/Dockerfile.patroni")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^FROM postgres:15\.[0-9]+-bookworm$`).Match(raw) {
		t.Error("Dockerfile.patroni is not FROM a pinned postgres:15.x-bookworm")
	}
	if !regexp.MustCompile(`\bpatroni=3\.[0-9.]+-[0-9]+\b`).Match(raw) {
		t.Error("Dockerfile.patroni does not pin a Patroni 3 package")
	}
}

// patroniNodes returns the services built from Dockerfile.patroni.
func patroniNodes(c *types.Project) map[string]types.ServiceConfig {
	nodes := map[string]types.ServiceConfig{}
	for name, s := range c.Services {
		if s.Build != nil && s.Build.Dockerfile == "Dockerfile.patroni" {
			nodes[name] = s
		}
	}
	return nodes
}

// env returns the value of a service's variable, "" when unset.
func env(s types.ServiceConfig, name string) string {
	if v := s.Environment[name]; v != nil {
		return *v
	}
	return ""
}

// port returns the port of a host:port or :port address.
func port(t *testing.T, addr string) string {
	t.Helper()
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		t.Errorf("%q has no port", addr)
		return ""
	}
	return addr[i+1:]
}

func TestComposeHA_ThreePatroniNodes(t *testing.T) {
	patroniYML, err := os.ReadFile("ha/patroni.yml")
	if err != nil {
		t.Fatal(err)
	}
	dockerfile, err := os.ReadFile("ha/Dockerfile.patroni")
	if err != nil {
		t.Fatal(err)
	}
	// patroni.yml's post_init is in the image, where it says.
	m := regexp.MustCompile(`(?m)^\s*post_init:\s*(\S+)$`).FindSubmatch(patroniYML)
	if m == nil {
		t.Fatal("patroni.yml has no post_init")
	}
	dir := filepath.Dir(string(m[1]))
	if !strings.Contains(string(dockerfile), "COPY patroni.yml post_init.sh "+dir+"/\n") ||
		!strings.Contains(string(dockerfile), `CMD ["`+dir+`/patroni.yml"]`) {
		t.Errorf("Dockerfile.patroni does not put patroni.yml and post_init.sh in %s, where patroni.yml's post_init is, or run that patroni.yml", dir)
	}
	required := []string{"PATRONI_NAME", "PATRONI_RESTAPI_LISTEN", "PATRONI_RESTAPI_CONNECT_ADDRESS", "PATRONI_POSTGRESQL_LISTEN",
		"PATRONI_POSTGRESQL_CONNECT_ADDRESS", "PATRONI_POSTGRESQL_DATA_DIR", "PATRONI_POSTGRESQL_BIN_DIR", "PATRONI_POSTGRESQL_PGPASS",
		"PATRONI_ETCD3_HOSTS", "PATRONI_SUPERUSER_USERNAME", "PATRONI_SUPERUSER_PASSWORD", "PATRONI_REPLICATION_USERNAME",
		"PATRONI_REPLICATION_PASSWORD", "SECKILL_DB_PASSWORD"}
	for how, c := range loadBothHA(t) {
		t.Run(how, func(t *testing.T) {
			nodes := patroniNodes(c)
			if len(nodes) != 3 {
				t.Fatalf("%d Patroni nodes, want 3", len(nodes))
			}
			volumes := map[string]bool{}
			for name, s := range nodes {
				for _, k := range required {
					if env(s, k) == "" {
						t.Errorf("%s: %s is not set", name, k)
					}
				}
				if got := env(s, "PATRONI_NAME"); got != name {
					t.Errorf("%s: PATRONI_NAME = %q, want the service's name", name, got)
				}
				for _, k := range []string{"PATRONI_RESTAPI_CONNECT_ADDRESS", "PATRONI_POSTGRESQL_CONNECT_ADDRESS"} {
					if got := env(s, k); !strings.HasPrefix(got, name+":") {
						t.Errorf("%s: %s = %q, want the service's own name", name, k, got)
					}
				}
				etcd := strings.Split(env(s, "PATRONI_ETCD3_HOSTS"), ":")[0]
				if _, ok := c.Services[etcd]; !ok || s.DependsOn[etcd].Condition != "service_healthy" {
					t.Errorf("%s: PATRONI_ETCD3_HOSTS names %q, not an etcd service it waits for", name, etcd)
				}
				if s.HealthCheck == nil || !strings.Contains(strings.Join(s.HealthCheck.Test, " "),
					":"+port(t, env(s, "PATRONI_RESTAPI_LISTEN"))+"/health") {
					t.Errorf("%s: no health check on Patroni's /health", name)
				}
				for _, v := range s.Volumes {
					if v.Type == types.VolumeTypeVolume && strings.HasPrefix(env(s, "PATRONI_POSTGRESQL_DATA_DIR"), v.Target+"/") {
						volumes[v.Source] = true
					}
				}
			}
			if len(volumes) != 3 {
				t.Errorf("the nodes keep their data directories in %d volumes, want one each", len(volumes))
			}
		})
	}
}

// The HA_* variables haproxy.cfg reads are the ones the haproxy service
// sets, and they name the nodes' and instances' fixed addresses and ports,
// the files mounted, and the ports the services and buyers use.
func TestComposeHA_HAProxyAgreesWithTheServices(t *testing.T) {
	cfg, err := os.ReadFile("ha/haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	// The comments name variables too ("${NAME}"): only directives count.
	directives := regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(string(cfg), "")
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$\{([A-Z][A-Z0-9_]*)\}`).FindAllStringSubmatch(directives, -1) {
		used[m[1]] = true
	}
	if len(used) < 10 {
		t.Fatalf("found %d variables in haproxy.cfg; the pattern is broken", len(used))
	}
	for how, c := range loadBothHA(t) {
		t.Run(how, func(t *testing.T) {
			h := c.Services["haproxy"]
			for name := range used {
				if env(h, name) == "" {
					t.Errorf("haproxy.cfg reads %s; the haproxy service does not set it", name)
				}
			}
			for name := range h.Environment {
				if !used[name] {
					t.Errorf("the haproxy service sets %s; haproxy.cfg does not read it", name)
				}
			}

			// The configuration is mounted where the command reads it, and
			// the error pages where HA_ERRORS says, with every page the
			// configuration names.
			mounts := map[string]string{}
			for _, v := range h.Volumes {
				mounts[v.Target] = v.Source
			}
			cmd := strings.Join(h.Command, " ")
			if src := mounts[strings.TrimSpace(strings.TrimPrefix(cmd, "haproxy -f"))]; !strings.HasPrefix(cmd, "haproxy -f ") ||
				src != filepath.Join(c.WorkingDir, "deployments", "ha", "haproxy.cfg") {
				t.Errorf("haproxy runs %q; deployments/ha/haproxy.cfg is not mounted there (mounts %v)", cmd, mounts)
			}
			errs := mounts[env(h, "HA_ERRORS")]
			if errs != filepath.Join(c.WorkingDir, "deployments", "ha", "errors") {
				t.Errorf("HA_ERRORS is %q, where deployments/ha/errors is not mounted (mounts %v)", env(h, "HA_ERRORS"), mounts)
			}
			for _, m := range regexp.MustCompile(`"\$\{HA_ERRORS\}/([^"]+)"`).FindAllStringSubmatch(directives, -1) {
				if _, err := os.Stat(filepath.Join(errs, m[1])); errs != "" && err != nil {
					t.Errorf("haproxy.cfg names an error page: %v", err)
				}
			}

			// HAProxy resolves names only at start: its servers are the
			// nodes' and instances' fixed addresses, outside the range
			// others are given.
			var subnet, dynamic netip.Prefix
			for _, pool := range c.Networks["default"].Ipam.Config {
				subnet, _ = netip.ParsePrefix(pool.Subnet)
				dynamic, _ = netip.ParsePrefix(pool.IPRange)
			}
			if !subnet.IsValid() || !dynamic.IsValid() {
				t.Fatalf("the default network has no subnet and ip_range: %+v", c.Networks["default"].Ipam)
			}
			fixed := func(service string) string {
				s, ok := c.Services[service]
				if !ok || s.Networks["default"] == nil {
					t.Errorf("%s has no fixed address", service)
					return ""
				}
				a, err := netip.ParseAddr(s.Networks["default"].Ipv4Address)
				if err != nil || !subnet.Contains(a) || dynamic.Contains(a) {
					t.Errorf("%s's address %q is not in %s outside %s", service, s.Networks["default"].Ipv4Address, subnet, dynamic)
				}
				return a.String()
			}
			for _, n := range []string{"1", "2", "3"} {
				node := c.Services["pg"+n]
				ip := fixed("pg" + n)
				for k, want := range map[string]string{
					"HA_PG" + n:               ip + ":" + port(t, env(node, "PATRONI_POSTGRESQL_LISTEN")),
					"HA_PG" + n + "_API_HOST": ip,
					"HA_PG" + n + "_API_PORT": port(t, env(node, "PATRONI_RESTAPI_LISTEN")),
				} {
					if got := env(h, k); got != want {
						t.Errorf("%s = %q, want %q (pg%s)", k, got, want, n)
					}
				}
			}
			for _, n := range []string{"1", "2"} {
				want := fixed("activity"+n) + ":" + port(t, env(c.Services["activity"+n], "HTTP_ADDR"))
				if got := env(h, "HA_ACTIVITY"+n); got != want {
					t.Errorf("HA_ACTIVITY%s = %q, want %q", n, got, want)
				}
			}

			// Buyers reach the activity frontend on 8504; the statistics
			// page is published, and the health check reads it.
			published := map[string]string{}
			for _, p := range h.Ports {
				published[p.Published] = strconv.FormatUint(uint64(p.Target), 10)
			}
			if got, want := published["8504"], port(t, env(h, "HA_ACTIVITY_BIND")); got != want {
				t.Errorf("host port 8504 goes to haproxy's %q, want the activity frontend's %q", got, want)
			}
			stats := port(t, env(h, "HA_STATS_BIND"))
			if published["8404"] != stats {
				t.Errorf("host port 8404 goes to haproxy's %q, want the statistics page's %q", published["8404"], stats)
			}
			if h.HealthCheck == nil || !strings.Contains(strings.Join(h.HealthCheck.Test, " "), "/dev/tcp/127.0.0.1/"+stats+" ") {
				t.Errorf("haproxy's health check does not read the statistics page on %s", stats)
			}

			// The services reach PostgreSQL and the activity instances
			// through HAProxy's frontends.
			for name, s := range c.Services {
				if s.Build == nil || s.Build.Dockerfile != "deployments/Dockerfile" {
					continue
				}
				u, err := url.Parse(env(s, "DATABASE_URL"))
				if err != nil || u.Host != "haproxy:"+port(t, env(h, "HA_PG_BIND")) {
					t.Errorf("%s: DATABASE_URL %q does not go through HAProxy's postgres frontend (%s)", name, env(s, "DATABASE_URL"), env(h, "HA_PG_BIND"))
				}
			}
			if got, want := env(c.Services["order"], "ACTIVITY_SERVICE_URL"), "http://haproxy:"+port(t, env(h, "HA_ACTIVITY_BIND")); got != want {
				t.Errorf("order: ACTIVITY_SERVICE_URL = %q, want %q", got, want)
			}
		})
	}
}

func TestComposeHA_EveryVariableIsReadByTheCode(t *testing.T) {
	c := loadFile(t, "docker-compose.ha.yml", dotEnv(t, haSecrets))
	names := configNames(t)
	for svc, s := range c.Services {
		if s.Build == nil || s.Build.Dockerfile != "deployments/Dockerfile" {
			continue // images of others, and the Patroni nodes
		}
		for k := range s.Environment {
			if !names[k] {
				t.Errorf("compose sets %s for %s, but no Go code reads it", k, svc)
			}
		}
	}
}

func TestComposeHA_TwoActivityInstancesBehindHAProxy(t *testing.T) {
	for how, c := range loadBothHA(t) {
		t.Run(how, func(t *testing.T) {
			var instances []string
			for name, s := range c.Services {
				if s.Build != nil && s.Build.Args["SERVICE"] != nil && *s.Build.Args["SERVICE"] == "activity" {
					instances = append(instances, name)
				}
			}
			sort.Strings(instances)
			if got, want := strings.Join(instances, " "), "activity1 activity2"; got != want {
				t.Fatalf("activity instances %q, want %q", got, want)
			}
			for _, name := range instances {
				s := c.Services[name]
				// Buyers come through HAProxy only.
				if len(s.Ports) != 0 {
					t.Errorf("%s publishes %v; buyers reach it through HAProxy", name, s.Ports)
				}
				if got := env(s, "SERVICE_ADVERTISE_ADDR"); got != name {
					t.Errorf("%s: SERVICE_ADVERTISE_ADDR = %q, want its own name", name, got)
				}
				for k, want := range map[string]string{"PRODUCT_SERVICE_URL": "http://product:8503", "ORDER_SERVICE_URL": "http://order:8505"} {
					if got := env(s, k); got != want {
						t.Errorf("%s: %s = %q, want %q, the peer itself", name, k, got, want)
					}
				}
				for _, dep := range []string{"haproxy", "product", "order"} {
					if s.DependsOn[dep].Condition != "service_healthy" {
						t.Errorf("%s does not wait for a healthy %s", name, dep)
					}
				}
				// Docker must not kill an instance while it drains and
				// shuts down.
				drain, err1 := time.ParseDuration(env(s, "SHUTDOWN_DRAIN"))
				shutdown, err2 := time.ParseDuration(env(s, "SHUTDOWN_TIMEOUT"))
				if err1 != nil || err2 != nil || drain <= 0 {
					t.Errorf("%s: SHUTDOWN_DRAIN %q, SHUTDOWN_TIMEOUT %q", name, env(s, "SHUTDOWN_DRAIN"), env(s, "SHUTDOWN_TIMEOUT"))
				} else if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) < drain+shutdown {
					t.Errorf("%s: stop_grace_period %v is shorter than SHUTDOWN_DRAIN plus SHUTDOWN_TIMEOUT", name, s.StopGracePeriod)
				}
			}
			for _, name := range []string{"product", "order", "activity1", "activity2"} {
				s := c.Services[name]
				if s.HealthCheck == nil || !strings.Contains(strings.Join(s.HealthCheck.Test, " "), "/readyz") {
					t.Errorf("%s has no /readyz health check", name)
				}
				if s.DependsOn["haproxy"].Condition != "service_healthy" {
					t.Errorf("%s does not wait for HAProxy to reach a PostgreSQL leader", name)
				}
			}
			wantPorts := map[string]string{"consul": "8501", "jaeger": "8502", "product": "8503", "haproxy": "8504", "order": "8505"}
			for name, port := range wantPorts {
				found := false
				for _, p := range c.Services[name].Ports {
					found = found || p.Published == port
				}
				if !found {
					t.Errorf("%s does not publish %s", name, port)
				}
			}
		})
	}
}

// The services are configured as in docker-compose.yml, but for what the
// HA topology changes: a setting added to one file and not the other fails
// here.
func TestComposeHA_ServicesMatchTheMainFile(t *testing.T) {
	main := load(t, dotEnv(t, tokens))
	ha := loadFile(t, "docker-compose.ha.yml", dotEnv(t, haSecrets))
	differ := map[string]bool{"DATABASE_URL": true, "SERVICE_ADVERTISE_ADDR": true, "ACTIVITY_SERVICE_URL": true, "SHUTDOWN_DRAIN": true}
	for haName, mainName := range map[string]string{"product": "product", "order": "order", "activity1": "activity", "activity2": "activity"} {
		h, m := ha.Services[haName], main.Services[mainName]
		keys := map[string]bool{}
		for k := range h.Environment {
			keys[k] = true
		}
		for k := range m.Environment {
			keys[k] = true
		}
		for k := range keys {
			if differ[k] {
				continue
			}
			hv, hok := h.Environment[k]
			mv, mok := m.Environment[k]
			switch {
			case !hok || !mok:
				t.Errorf("%s is set for %s in only one of the files (docker-compose.ha.yml: %v, docker-compose.yml: %v)", k, haName, hok, mok)
			case (hv == nil) != (mv == nil) || (hv != nil && *hv != *mv):
				t.Errorf("%s: %s differs: %q in docker-compose.ha.yml, %q in docker-compose.yml", haName, k, env(h, k), env(m, k))
			}
		}
		for _, k := range []string{"consul", "jaeger"} {
			if ha.Services[k].Image != main.Services[k].Image {
				t.Errorf("%s runs %s here, %s in docker-compose.yml", k, ha.Services[k].Image, main.Services[k].Image)
			}
		}
	}
}
