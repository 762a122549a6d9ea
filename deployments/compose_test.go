// Package deployments holds the Dockerfiles and the checks that keep them,
// docker-compose.yml, docker-compose.ha.yml and .env_template in step with
// the code. No Docker engine runs where the tests do, so the files are
// checked by reading them.
package deployments

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// load reads docker-compose.yml with compose-go, the parser of Compose v2,
// with envFile as its .env ("" for none), interpolated and validated as
// `docker compose config` does. Debian's docker-compose 1.29 reads the same
// file in `make compose-check`.
func load(t *testing.T, envFile string) *types.Project {
	t.Helper()
	return loadFile(t, "docker-compose.yml", envFile)
}

// loadFile is load for any of the top-level compose files.
func loadFile(t *testing.T, file, envFile string) *types.Project {
	t.Helper()
	p, err := loadProject(file, envFile)
	if err != nil {
		t.Fatalf("%s (env file %q): %v", file, envFile, err)
	}
	return p
}

// loadProject reads file as loadFile does and returns compose-go's error,
// for the tests that want a refusal.
func loadProject(file, envFile string) (*types.Project, error) {
	abs, err := filepath.Abs("..")
	if err != nil {
		return nil, err
	}
	opts := []cli.ProjectOptionsFn{cli.WithName("seckill"), cli.WithWorkingDirectory(abs), cli.WithInterpolation(true)}
	if envFile != "" {
		opts = append(opts, cli.WithEnvFiles(envFile), cli.WithDotEnv)
	}
	o, err := cli.NewProjectOptions([]string{filepath.Join(abs, file)}, opts...)
	if err != nil {
		return nil, err
	}
	return o.LoadProject(context.Background())
}

// tokens are the two settings compose cannot run without.
const tokens = "\nADMIN_TOKEN=compose-test-admin-token\nSERVICE_TOKEN=compose-test-service-token\n"

// dotEnv writes content to a .env in a temporary directory and returns its path.
func dotEnv(t *testing.T, content string) string {
	t.Helper()
	env := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(env, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return env
}

// loadBoth returns the project read with a .env holding only the tokens and
// with .env_template copied to .env and the tokens filled in, the two ways
// a new user runs it.
func loadBoth(t *testing.T) map[string]*types.Project {
	t.Helper()
	raw, err := os.ReadFile("../.env_template")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*types.Project{"tokens only": load(t, dotEnv(t, tokens)), "with .env": load(t, dotEnv(t, string(raw)+tokens))}
}

// Without the tokens compose refuses to start the stack, naming what is
// missing, as the services themselves would.
func TestCompose_RefusesToRunWithoutTokens(t *testing.T) {
	raw, err := os.ReadFile("../.env_template")
	if err != nil {
		t.Fatal(err)
	}
	for how, env := range map[string]string{"no .env": dotEnv(t, ""), ".env_template as is": dotEnv(t, string(raw))} {
		if _, err := loadProject("docker-compose.yml", env); err == nil || !strings.Contains(err.Error(), "ADMIN_TOKEN") {
			t.Errorf("%s: compose loaded without tokens (err %v), want a refusal naming ADMIN_TOKEN", how, err)
		}
	}
}

// configNames returns every environment variable name the services read:
// the names passed to config.Env's readers and to getenv, and the names
// the tracing package keeps as constants. The test harnesses under
// internal/testing and the local stack's tools under internal/devstack read
// variables of their own that no service has.
func configNames(t *testing.T) map[string]bool {
	t.Helper()
	re := regexp.MustCompile(`(?:\.(?:String|Int|Bool|Duration|URL|List|Float|OneOf)|[gG]etenv)\("([A-Z][A-Z0-9_]+)"|(?m)^\s*env\w*\s*=\s*"([A-Z][A-Z0-9_]+)"$`)
	names := map[string]bool{}
	err := filepath.WalkDir("../internal", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (path == "../internal/testing" || path == "../internal/devstack") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			names[m[1]+m[2]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestCompose_ServicesPortsAndHealth(t *testing.T) {
	for how, c := range loadBoth(t) {
		t.Run(how, func(t *testing.T) {
			wantPorts := map[string]string{"consul": "8501", "jaeger": "8502", "product": "8503", "activity": "8504", "order": "8505",
				"grafana": "3000", "prometheus": "9090"}
			for name, port := range wantPorts {
				s, ok := c.Services[name]
				if !ok {
					t.Errorf("service %s is missing", name)
					continue
				}
				found := false
				for _, p := range s.Ports {
					found = found || p.Published == port
				}
				if !found {
					t.Errorf("service %s does not publish %s (ports %v)", name, port, s.Ports)
				}
			}
			for _, name := range []string{"product", "activity", "order"} {
				s := c.Services[name]
				// /readyz, not /healthz: a service whose database is
				// gone is alive but cannot serve, and must not count
				// as healthy for the services that wait for it.
				if s.HealthCheck == nil || !strings.Contains(strings.Join(s.HealthCheck.Test, " "), "/readyz") {
					t.Errorf("%s has no /readyz health check", name)
				}
				if s.DependsOn["postgres"].Condition != "service_healthy" {
					t.Errorf("%s does not wait for a healthy postgres", name)
				}
				if s.Build == nil || s.Build.Args["SERVICE"] == nil || *s.Build.Args["SERVICE"] != name {
					t.Errorf("%s is not built with SERVICE=%s", name, name)
				} else if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
					t.Errorf("%s: %v", name, err)
				}
				if _, err := os.Stat(filepath.Join("..", "cmd", name)); err != nil {
					t.Errorf("%s: no cmd/%s to build", name, name)
				}
			}
			if c.Services["activity"].DependsOn["product"].Condition != "service_healthy" ||
				c.Services["activity"].DependsOn["order"].Condition != "service_healthy" {
				t.Error("activity does not wait for healthy product and order services")
			}
			// Every file the monitoring services mount exists.
			for _, name := range []string{"prometheus", "grafana"} {
				for _, v := range c.Services[name].Volumes {
					if _, err := os.Stat(v.Source); err != nil {
						t.Errorf("%s mounts %s: %v", name, v.Source, err)
					}
				}
			}
		})
	}
}

func TestCompose_DotEnvReachesTheServices(t *testing.T) {
	env := dotEnv(t, "LOG_LEVEL=debug\nACCESS_CONTROL_ALLOW_ORIGIN=\n"+tokens)
	for how, tc := range map[string]struct {
		env            string
		level, origins string
	}{"tokens only": {dotEnv(t, tokens), "info", "*"}, "with .env": {env, "debug", ""}} {
		c := load(t, tc.env)
		for _, name := range []string{"product", "activity", "order"} {
			e := c.Services[name].Environment
			if got := e["LOG_LEVEL"]; got == nil || *got != tc.level {
				t.Errorf("%s: %s: LOG_LEVEL = %v, want %q", how, name, got, tc.level)
			}
			// An empty value is kept: it is how CORS is turned off.
			if got := e["ACCESS_CONTROL_ALLOW_ORIGIN"]; got == nil || *got != tc.origins {
				t.Errorf("%s: %s: ACCESS_CONTROL_ALLOW_ORIGIN = %v, want %q", how, name, got, tc.origins)
			}
		}
	}
}

func TestCompose_EveryVariableIsReadByTheCode(t *testing.T) {
	c := load(t, dotEnv(t, tokens))
	names := configNames(t)
	for svc, s := range c.Services {
		if s.Build == nil {
			continue // images of others: postgres, consul, jaeger, prometheus, grafana
		}
		for k := range s.Environment {
			if !names[k] {
				t.Errorf("compose sets %s for %s, but no Go code reads it", k, svc)
			}
		}
	}
}

func TestEnvTemplate_EveryVariableIsKnown(t *testing.T) {
	raw, err := os.ReadFile("../.env_template")
	if err != nil {
		t.Fatal(err)
	}
	var composeRaw []byte
	for _, f := range []string{"../docker-compose.yml", "../docker-compose.ha.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		composeRaw = append(composeRaw, b...)
	}
	names := configNames(t)
	re := regexp.MustCompile(`(?m)^#?\s*([A-Z][A-Z0-9_]+)=`)
	var unknown []string
	for _, m := range re.FindAllStringSubmatch(string(raw), -1) {
		if !names[m[1]] && !strings.Contains(string(composeRaw), "${"+m[1]) {
			unknown = append(unknown, m[1])
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		t.Errorf(".env_template documents variables nothing reads: %v", unknown)
	}
	// And the other way: every variable the code reads is documented.
	for n := range names {
		if !strings.Contains(string(raw), n+"=") {
			t.Errorf("%s is read by the code but missing from .env_template", n)
		}
	}
}
