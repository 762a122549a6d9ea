package deployments

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/activity"
	"github.com/seckill/seckill/internal/order"
	"github.com/seckill/seckill/internal/product"
	"github.com/seckill/seckill/internal/testing/pgtest"
	"github.com/seckill/seckill/internal/testing/svctest"
)

// quickstart returns the shell lines of the README's Quickstart section:
// every ```sh block between its heading and the next.
func quickstart(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\n## Quickstart")
	if !ok {
		t.Fatal("README.md has no Quickstart section")
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	var script strings.Builder
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1) {
		script.WriteString(m[1])
	}
	if script.Len() == 0 {
		t.Fatal("the Quickstart section has no sh block")
	}
	return script.String()
}

// TestREADME_QuickstartRuns runs the README's copy-paste session, as
// written but for the services' addresses, against the three services: so
// the README cannot go stale.
func TestREADME_QuickstartRuns(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required in CI: %v", tool, err)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	script := quickstart(t)
	const admin = "quickstart-admin-token-0123456789"
	db := pgtest.NewDB(t)
	common := map[string]string{"DATABASE_URL": db, "ADMIN_TOKEN": admin, "SERVICE_TOKEN": "quickstart-service-token-0123456789"}
	with := func(extra map[string]string) map[string]string {
		env := map[string]string{}
		for k, v := range common {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	p := svctest.Start(t, product.Run, with(nil))
	o := svctest.Start(t, order.Run, with(nil))
	a := svctest.Start(t, activity.Run, with(map[string]string{"PRODUCT_SERVICE_URL": p.URL, "ORDER_SERVICE_URL": o.URL, "RELAY_INTERVAL": "100ms"}))
	for local, started := range map[string]string{"http://localhost:8503": p.URL, "http://localhost:8504": a.URL, "http://localhost:8505": o.URL} {
		if !strings.Contains(script, local) {
			t.Errorf("the quickstart never calls %s", local)
		}
		script = strings.ReplaceAll(script, local, started)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Env = append(os.Environ(), "ADMIN_TOKEN="+admin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the quickstart failed: %v\n%s", err, out.String())
	}
	for _, want := range []string{`"status":"won"`, `"status":"paid"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the quickstart's output lacks %s:\n%s", want, out.String())
		}
	}
	t.Logf("quickstart output:\n%s", out.String())
}
