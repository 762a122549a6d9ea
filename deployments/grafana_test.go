package deployments

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
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

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	UID    string `json:"uid"`
	Title  string `json:"title"`
	Panels []struct {
		Title      string `json:"title"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// promqlWords are the words of PromQL that are not metric names:
// aggregations, functions, keywords and Grafana's interval variable.
var promqlWords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true,
	"group_right": true, "and": true, "or": true, "unless": true, "offset": true, "bool": true}

var (
	labelBlock = regexp.MustCompile(`\{[^}]*\}`)                                 // label matchers
	grouping   = regexp.MustCompile(`\b(?:by|without|on|ignoring)\s*\([^)]*\)`)  // grouping labels
	identifier = regexp.MustCompile(`\$?[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)       // a name, and "(" when it is a call
	rangeBlock = regexp.MustCompile(`\[[^\]]*\]`)                                // range selectors
	typeLine   = regexp.MustCompile(`^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$`) // exposition format
	quoted     = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)                         // strings
)

// metricNames returns the metric names a PromQL expression selects.
func metricNames(expr string) []string {
	e := quoted.ReplaceAllString(expr, `""`)
	e = labelBlock.ReplaceAllString(e, " ")
	e = rangeBlock.ReplaceAllString(e, " ")
	e = grouping.ReplaceAllString(e, " ")
	var names []string
	for _, m := range identifier.FindAllString(e, -1) {
		if strings.HasSuffix(m, "(") || strings.HasPrefix(m, "$") || promqlWords[m] {
			continue // a function or aggregation, or a Grafana variable
		}
		names = append(names, m)
	}
	return names
}

func TestMetricNames(t *testing.T) {
	got := metricNames(`histogram_quantile(0.99, sum by (service, le) (rate(http_request_duration_seconds_bucket{route="/x"}[$__rate_interval]))) - up`)
	if want := []string{"http_request_duration_seconds_bucket", "up"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("metricNames = %v, want %v", got, want)
	}
}

// exported starts the three services, makes one sale so that every series
// exists, and returns every metric name their /metrics pages list (with a
// histogram's _bucket, _sum and _count).
func exported(t *testing.T) map[string]bool {
	t.Helper()
	db := pgtest.NewDB(t)
	p := svctest.Start(t, product.Run, map[string]string{"DATABASE_URL": db})
	o := svctest.Start(t, order.Run, map[string]string{"DATABASE_URL": db})
	a := svctest.Start(t, activity.Run, map[string]string{"DATABASE_URL": db, "PRODUCT_SERVICE_URL": p.URL,
		"ORDER_SERVICE_URL": o.URL, "RELAY_INTERVAL": "100ms"})
	r := svctest.Do(t, "POST", p.URL+"/products", `{"name":"dash","price":1,"inventory":1}`)
	now := time.Now()
	r = svctest.Do(t, "POST", a.URL+"/activities", map[string]any{"name": "dash", "product_id": svctest.Int(r.Data()["id"]),
		"stock": 1, "start_time": now.Add(-time.Second).Format(time.RFC3339), "end_time": now.Add(time.Hour).Format(time.RFC3339)})
	if r.Status != http.StatusCreated {
		t.Fatalf("create activity: %d %s", r.Status, r.Raw)
	}
	svctest.Do(t, "POST", fmt.Sprintf("%s/activities/%d/seckill", a.URL, svctest.Int(r.Data()["id"])), `{"user_id":1}`)

	names := map[string]bool{}
	for _, base := range []string{p.URL, o.URL, a.URL} {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			m := typeLine.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			names[m[1]] = true
			if m[2] == "histogram" || m[2] == "summary" {
				names[m[1]+"_bucket"], names[m[1]+"_sum"], names[m[1]+"_count"] = true, true, true
			}
		}
		resp.Body.Close()
	}
	return names
}

func TestGrafanaDashboard_EveryQueryNamesAnExportedMetric(t *testing.T) {
	raw, err := os.ReadFile("grafana/dashboards/seckill.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("the dashboard is not JSON Grafana can load: %v", err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard has no uid, title or panels: %+v", d)
	}
	names := exported(t)
	for _, want := range []string{"seckill_outcomes_total", "seckill_activity_remaining", "seckill_activity_stock",
		"seckill_commit_batch_size_bucket", "relay_backlog", "http_request_duration_seconds_bucket",
		"settled_units_total", "orders_settled_total", "settlement_backlog"} {
		if !names[want] {
			t.Errorf("the services do not export %s", want)
		}
	}
	used := map[string]bool{}
	for _, p := range d.Panels {
		if p.Datasource.UID != "prometheus" {
			t.Errorf("panel %q uses data source %q, not the provisioned prometheus", p.Title, p.Datasource.UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			ms := metricNames(q.Expr)
			if len(ms) == 0 {
				t.Errorf("panel %q: query %q names no metric", p.Title, q.Expr)
			}
			for _, m := range ms {
				used[m] = true
				if !names[m] {
					t.Errorf("panel %q: query %q reads %s, which no service exports", p.Title, q.Expr, m)
				}
			}
		}
	}
	t.Logf("%d panels read %d metrics, all exported", len(d.Panels), len(used))
}
