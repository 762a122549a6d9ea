// Package api_test checks that each service's Swagger UI renders its
// endpoint list in a real browser.
package api_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/activity"
	"github.com/seckill/seckill/internal/order"
	"github.com/seckill/seckill/internal/product"
	"github.com/seckill/seckill/internal/testing/pgtest"
	"github.com/seckill/seckill/internal/testing/svctest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("headless Chromium is required in CI: apt-get install -y chromium")
	}
	t.Skip("Chromium is not installed (apt-get install -y chromium); skipping the browser check of the Swagger UI")
	return ""
}

// renderedDOM loads url in headless Chromium and returns the DOM after the
// page's scripts ran.
func renderedDOM(t *testing.T, browser, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=15000", "--dump-dom", url)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return string(out)
}

func TestSwaggerUI_RendersEndpointList(t *testing.T) {
	browser := chromium(t)
	url := pgtest.NewDB(t)
	env := map[string]string{"DATABASE_URL": url, "PRODUCT_SERVICE_URL": "http://127.0.0.1:1", "ORDER_SERVICE_URL": "http://127.0.0.1:1"}
	for _, tc := range []struct {
		name  string
		run   svctest.RunFunc
		paths []string
	}{
		{"product", product.Run, []string{"/products/{id}", "/products/{id}/reservations"}},
		{"activity", activity.Run, []string{"/activities/{id}/seckill", "/activities/{id}/stats"}},
		{"order", order.Run, []string{"/orders/batch", "/orders/{id}/pay"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := svctest.Start(t, tc.run, env)
			dom := renderedDOM(t, browser, s.URL+"/swagger/index.html")
			if !strings.Contains(dom, "opblock-summary-path") {
				t.Fatalf("the Swagger UI rendered no operations:\n%.2000s", dom)
			}
			for _, p := range tc.paths {
				if !strings.Contains(dom, p) {
					t.Errorf("the rendered endpoint list lacks %s", p)
				}
			}
		})
	}
}
