package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/platform/pgserver"
)

// TestOutage_DatabaseStoppedUnderLoad stops PostgreSQL mid-sale: the
// services answer 503 with the envelope while it is down, /readyz says so,
// and they recover without a restart.
func TestOutage_DatabaseStoppedUnderLoad(t *testing.T) {
	ctx := context.Background()
	// Not t.TempDir: the server runs as the postgres user, who must be
	// able to reach the directory.
	dir, err := os.MkdirTemp("", "seckill-outage-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cluster, err := pgserver.New(ctx, filepath.Join(dir, "pg"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := cluster.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Stop(context.Background()) })
	if err := cluster.CreateDatabase(ctx, "seckill", ""); err != nil {
		t.Fatal(err)
	}
	s := newSystem(t, cluster.URL("seckill"))
	const stock = 300
	id := s.sale(stock)
	var c *crowd
	c = &crowd{url: fmt.Sprintf("%s/activities/%d/seckill", s.activity.url(), id), users: 10_000, workers: 16, retryFor: 60 * time.Second, atWin: 80}
	c.at = func() {
		if err := cluster.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("PostgreSQL stopped after %d wins", c.wins.Load())

		// A purchase that needs the database gets a prompt 503 envelope.
		client := &http.Client{Timeout: 20 * time.Second}
		start := time.Now()
		resp, err := client.Post(c.url, "application/json", strings.NewReader(`{"user_id":999999}`))
		if err != nil {
			t.Fatalf("purchase during the outage: %v", err)
		}
		var env struct {
			Code       int    `json:"code"`
			Error      string `json:"error"`
			StatusCode int    `json:"status_code"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&env)
		resp.Body.Close()
		if resp.StatusCode != 503 || env.StatusCode != 503 || env.Error != "unavailable" {
			t.Errorf("purchase during the outage: %d %+v, want a 503 envelope", resp.StatusCode, env)
		}
		t.Logf("a purchase during the outage answered %d in %s", resp.StatusCode, time.Since(start).Round(time.Millisecond))
		for _, p := range []*proc{s.product, s.activity, s.order} {
			if got := get(p.url() + "/readyz"); got != 503 {
				t.Errorf("%s /readyz = %d during the outage, want 503", p.name, got)
			}
			if got := get(p.url() + "/healthz"); got != 200 {
				t.Errorf("%s /healthz = %d during the outage, want 200", p.name, got)
			}
		}
		if err := cluster.Start(ctx); err != nil {
			t.Fatal(err)
		}
		for _, p := range []*proc{s.product, s.activity, s.order} {
			waitFor(t, 30*time.Second, p.name+" ready again", func() bool { return get(p.url()+"/readyz") == 200 })
		}
		t.Log("PostgreSQL restarted; every service ready again without a restart")
	}
	c.run(context.Background())
	for _, p := range []*proc{s.product, s.activity, s.order} {
		if p.cmd.ProcessState != nil {
			t.Errorf("%s exited during the outage", p.name)
		}
		p.mu.Lock()
		if strings.Contains(p.log.String(), "panic") {
			t.Errorf("%s panicked:\n%s", p.name, p.log.String())
		}
		p.mu.Unlock()
	}
	s.verify(id, stock, c)
}
