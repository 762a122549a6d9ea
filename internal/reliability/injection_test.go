package reliability

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/platform/pgtest"
)

var injections = []string{
	"'; DROP TABLE product.products; --",
	"1 OR 1=1",
	`" OR ""="`,
	"Robert'); DROP TABLE orders.orders;--",
	`\'; SELECT pg_sleep(5); --`,
	"名前' UNION SELECT * FROM activity.winners --",
	"$1; DELETE FROM activity.activities",
}

// TestInjection_TextIsStoredLiterally sends classic injection strings in
// every text field and query parameter: each is either refused with a 4xx
// or stored exactly as sent, and every table is intact afterwards.
func TestInjection_TextIsStoredLiterally(t *testing.T) {
	s := newSystem(t, pgtest.NewDB(t))
	ctx := context.Background()
	for i, inj := range injections {
		var p struct {
			ID          int64
			Name        string
			Description string
		}
		name := fmt.Sprintf("%s #%d", inj, i)
		if code := call(t, "POST", s.product.url()+"/products", map[string]any{"name": name, "description": inj, "price": 1, "inventory": 5}, &p); code != 201 {
			t.Fatalf("create product named %q: %d", name, code)
		}
		var got struct{ Name, Description string }
		call(t, "GET", fmt.Sprintf("%s/products/%d", s.product.url(), p.ID), nil, &got)
		if got.Name != name || got.Description != inj {
			t.Errorf("stored %q / %q, sent %q / %q", got.Name, got.Description, name, inj)
		}
		var a struct{ ID int64 }
		now := time.Now()
		if code := call(t, "POST", s.activity.url()+"/activities", map[string]any{"name": inj, "product_id": p.ID, "stock": 1,
			"start_time": now.Format(time.RFC3339), "end_time": now.Add(time.Hour).Format(time.RFC3339)}, &a); code != 201 {
			t.Fatalf("create activity named %q: %d", inj, code)
		}
		var ga struct{ Name string }
		call(t, "GET", fmt.Sprintf("%s/activities/%d", s.activity.url(), a.ID), nil, &ga)
		if ga.Name != inj {
			t.Errorf("activity name stored %q, sent %q", ga.Name, inj)
		}
		q := url.QueryEscape(inj)
		for _, u := range []string{
			s.product.url() + "/products?limit=" + q, s.product.url() + "/products?offset=" + q,
			s.order.url() + "/orders?user_id=" + q, s.order.url() + "/orders?activity_id=" + q,
			s.product.url() + "/products/" + url.PathEscape(inj), s.order.url() + "/orders/" + url.PathEscape(inj),
			s.activity.url() + "/activities/" + url.PathEscape(inj) + "/stats",
		} {
			if code := call(t, "GET", u, nil, nil); code < 400 || code >= 500 {
				t.Errorf("GET %s = %d, want a 4xx", u, code)
			}
		}
		if code := call(t, "POST", fmt.Sprintf("%s/activities/%d/seckill", s.activity.url(), a.ID), map[string]any{"user_id": inj}, nil); code != 400 {
			t.Errorf("user_id %q: %d, want 400", inj, code)
		}
	}
	for table, want := range map[string]int{"product.products": len(injections), "activity.activities": len(injections), "orders.orders": 0} {
		var n int
		if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil || n != want {
			t.Errorf("%s: %d rows (%v), want %d", table, n, err, want)
		}
	}
	t.Logf("%d injection strings stored literally in 3 text fields; 8 parameters refused them with 4xx; every table intact", len(injections))
}

// TestInjection_NoSQLBuiltFromStrings scans the code: no SQL statement is
// formatted with fmt, and no query text is concatenated from anything but
// constants and sanitized identifiers.
func TestInjection_NoSQLBuiltFromStrings(t *testing.T) {
	sprintf := regexp.MustCompile(`fmt\.Sprintf\(\s*["` + "`" + `][^"` + "`" + `]*\b(SELECT|INSERT|UPDATE|DELETE|DROP|CREATE|ALTER)\b`)
	concat := regexp.MustCompile(`\b(Exec|Query|QueryRow|Queue)\(\s*\w+,\s*[^,)]*\+\s*([A-Za-z_][\w.]*)`)
	allowed := regexp.MustCompile(`(Columns|where|^pgx\.Identifier)$`) // constants, and identifiers quoted by pgx.Identifier{…}.Sanitize()
	files := 0
	err := filepath.WalkDir("../..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == ".data") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		if m := sprintf.Find(src); m != nil {
			t.Errorf("%s formats SQL with fmt.Sprintf: %s", path, m)
		}
		for _, m := range concat.FindAllSubmatch(src, -1) {
			if !allowed.Match(m[2]) {
				t.Errorf("%s concatenates query text with %s: %s", path, m[2], m[0])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d Go files scanned: SQL only as constants with bound parameters", files)
}
