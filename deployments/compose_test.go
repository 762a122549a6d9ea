// Package deployments holds the Dockerfile and the checks that keep it,
// docker-compose.yml and .env_template in step with the code. No Docker
// engine runs where the tests do, so the files are checked by reading them.
package deployments

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type compose struct {
	Services map[string]struct {
		Image string `yaml:"image"`
		Build *struct {
			Context    string            `yaml:"context"`
			Dockerfile string            `yaml:"dockerfile"`
			Args       map[string]string `yaml:"args"`
		} `yaml:"build"`
		Ports       []string          `yaml:"ports"`
		Environment map[string]string `yaml:"environment"`
		Healthcheck *struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
		DependsOn map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
	} `yaml:"services"`
}

func load(t *testing.T) compose {
	t.Helper()
	raw, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
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
	c := load(t)
	wantPorts := map[string]string{"consul": "8501:", "jaeger": "8502:", "product": "8503:8503", "activity": "8504:8504", "order": "8505:8505"}
	for _, name := range []string{"postgres", "consul", "jaeger", "product", "activity", "order"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("service %s is missing", name)
		}
	}
	for name, port := range wantPorts {
		found := false
		for _, p := range c.Services[name].Ports {
			found = found || strings.HasPrefix(p, port)
		}
		if !found {
			t.Errorf("service %s does not publish %s (ports %v)", name, port, c.Services[name].Ports)
		}
	}
	for _, name := range []string{"product", "activity", "order"} {
		s := c.Services[name]
		if s.Healthcheck == nil || !strings.Contains(strings.Join(s.Healthcheck.Test, " "), "/healthz") {
			t.Errorf("%s has no /healthz health check", name)
		}
		if s.DependsOn["postgres"].Condition != "service_healthy" {
			t.Errorf("%s does not wait for a healthy postgres", name)
		}
		if s.Build == nil || s.Build.Args["SERVICE"] != name {
			t.Errorf("%s is not built with SERVICE=%s", name, name)
		} else if _, err := os.Stat(filepath.Join("..", s.Build.Context, s.Build.Dockerfile)); err != nil {
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
}

func TestCompose_EveryVariableIsReadByTheCode(t *testing.T) {
	c := load(t)
	names := configNames(t)
	for svc, s := range c.Services {
		if s.Build == nil {
			continue // images of others: postgres, consul, jaeger
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
	composeRaw, _ := os.ReadFile("../docker-compose.yml")
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
