package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/seckill/seckill/internal/devstack"
	"github.com/seckill/seckill/internal/devstack/pgserver"
)

// TestOutage_DatabaseStoppedUnderLoad stops PostgreSQL mid-sale, on a
// cluster of the test's own. While it is down every service answers its
// API with a prompt 503 error envelope (never a 500, never a hang),
// /readyz says 503 and /healthz 200; when it is back they recover without
// a restart and the sale completes with every promise kept.
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
	c := newCrowd(s, id, 10_000)
	c.Conns, c.RetryFor = 16, 60*time.Second
	P, A, O := s.product.URL, s.activity.URL, s.order.URL
	all := []*devstack.Proc{s.product, s.activity, s.order}
	c.at[80] = func() {
		if err := cluster.Stop(ctx); err != nil {
			t.Errorf("stop PostgreSQL: %v", err)
			return
		}
		t.Logf("PostgreSQL stopped when win 80 was answered")

		// Every endpoint that needs the database answers a prompt 503 envelope.
		slowest := time.Duration(0)
		checked := 0
		for _, r := range []struct{ method, url, body string }{
			{"POST", c.url, `{"user_id":999999}`},
			{"GET", fmt.Sprintf("%s/activities/%d", A, id), ""},
			{"GET", fmt.Sprintf("%s/activities/%d/stats", A, id), ""},
			{"GET", fmt.Sprintf("%s/activities/%d/seckill/5", A, id), ""},
			{"GET", A + "/activities", ""},
			{"GET", P + "/products", ""},
			{"GET", P + "/products/1", ""},
			{"POST", P + "/products", `{"name":"during the outage","price":1,"inventory":1}`},
			{"PUT", fmt.Sprintf("%s/activities/%d", A, id), `{"name":"renamed during the outage"}`},
			{"POST", A + "/activities", `{"name":"x","product_id":1,"stock":1,"start_time":"2026-01-01T00:00:00Z","end_time":"2099-01-01T00:00:00Z"}`},
			{"PUT", P + "/products/1", `{"name":"renamed during the outage"}`},
			{"POST", P + "/products/1/reservations", `{"activity_id":999,"quantity":1}`},
			{"DELETE", P + "/products/1/reservations/999", ""},
			{"GET", O + "/orders?activity_id=1", ""},
			{"PUT", P + "/products/1/reservations/999/settlement", `{"sold":0,"released":0}`},
			{"POST", A + "/activities/settlements", fmt.Sprintf(`{"settlements":[{"order_id":%q,"activity_id":1,"user_id":1,"status":"paid"}]}`, uuid.NewString())},
			{"POST", O + "/orders/" + uuid.NewString() + "/pay", `{"user_id":1}`},
			{"POST", O + "/orders/" + uuid.NewString() + "/cancel", `{"user_id":1}`},
			{"GET", O + "/orders/" + uuid.NewString(), ""},
			{"POST", O + "/orders", fmt.Sprintf(`{"id":%q,"user_id":1,"activity_id":1,"product_id":1,"quantity":1,"price":1}`, uuid.NewString())},
		} {
			took, err := expectUnavailable(r.method, r.url, r.body)
			if err != nil {
				t.Errorf("during the outage: %v", err)
			}
			slowest = max(slowest, took)
			checked++
		}
		// Hold the outage until the crowd too has been told 503 a hundred times.
		if !poll(10*time.Second, func() bool { return c.unavail.Load() >= 100 }) {
			t.Errorf("the crowd got only %d 503s during the outage", c.unavail.Load())
		}
		for _, p := range all {
			if got := get(p.URL + "/readyz"); got != 503 {
				t.Errorf("%s /readyz = %d during the outage, want 503", p.Name, got)
			}
			if got := get(p.URL + "/healthz"); got != 200 {
				t.Errorf("%s /healthz = %d during the outage, want 200", p.Name, got)
			}
		}
		t.Logf("during the outage: %d API requests answered 503 with the error envelope, the slowest in %s; the crowd was told 503 %d times; "+
			"/readyz 503 and /healthz 200 on all 3 services", checked, slowest.Round(time.Millisecond), c.unavail.Load())

		if err := cluster.Start(ctx); err != nil {
			t.Errorf("restart PostgreSQL: %v", err)
			return
		}
		start := time.Now()
		for _, p := range all {
			if !poll(30*time.Second, func() bool { return get(p.URL+"/readyz") == 200 }) {
				t.Errorf("%s not ready within 30s of PostgreSQL's return", p.Name)
			}
		}
		t.Logf("PostgreSQL restarted; all 3 services ready again %s later, without a restart", time.Since(start).Round(time.Millisecond))
	}
	c.run(ctx)
	for _, p := range all {
		if p.Exited() {
			t.Errorf("%s exited during the outage", p.Name)
		}
		if out := p.Output(); strings.Contains(out, "panic") {
			t.Errorf("%s panicked", p.Name)
		}
	}
	s.verify(id, stock, c)
}

// expectUnavailable sends one request with a 10s timeout and checks that it
// is answered 503 with the error envelope.
func expectUnavailable(method, url, body string) (time.Duration, error) {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	authorize(req)
	start := time.Now()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	took := time.Since(start)
	if err != nil {
		return took, fmt.Errorf("%s %s: no answer: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var env struct {
		Code       int    `json:"code"`
		Message    string `json:"message"`
		Error      string `json:"error"`
		StatusCode int    `json:"status_code"`
	}
	if resp.StatusCode != 503 || json.Unmarshal(raw, &env) != nil || env.StatusCode != 503 || env.Code != 503 ||
		env.Error != "unavailable" || env.Message == "" {
		return took, fmt.Errorf("%s %s: %d %s, want a 503 error envelope", method, url, resp.StatusCode, raw)
	}
	return took, nil
}
