package product_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/platform/app"
	"github.com/seckill/seckill/internal/product"
	"github.com/seckill/seckill/internal/testing/pgtest"
	"github.com/seckill/seckill/internal/testing/svctest"
)

// Administrators change the catalogue and only services move reservations;
// every other caller is refused before anything is written, and the
// catalogue stays public.
func TestAuth_ProductRoutes(t *testing.T) {
	pool, url := pgtest.NewPool(t)
	base := svctest.Start(t, product.Run, map[string]string{"DATABASE_URL": url}).URL
	id := create(t, base, "Guarded", 10)
	item := fmt.Sprintf("%s/products/%d", base, id)
	admin, service := svctest.AdminToken, svctest.ServiceToken
	state := func() string { return pgtest.Rows(t, pool, "product.products", "product.reservations") }

	svctest.CheckGuarded(t, []svctest.Guarded{
		{Method: "POST", URL: base + "/products", Body: `{"name":"New","price":1,"inventory":1}`, Token: admin, Others: []string{service}},
		{Method: "PUT", URL: item, Body: `{"price":2}`, Token: admin, Others: []string{service}},
		{Method: "POST", URL: item + "/reservations", Body: `{"activity_id":51,"quantity":4}`, Token: service, Others: []string{admin}},
		{Method: "DELETE", URL: item + "/reservations/51", Token: service, Others: []string{admin}},
		{Method: "DELETE", URL: item, Token: admin, Others: []string{service}},
	}, state)

	for _, u := range []string{base + "/products", fmt.Sprintf("%s/products/%d", base, create(t, base, "Public", 1))} {
		if r := svctest.DoAs(t, "", "GET", u, nil); r.Status != 200 {
			t.Errorf("GET %s without a credential: %d %s", u, r.Status, r.Raw)
		}
	}
}

// The attack the issue reported: anyone released a live activity's
// reservation, and the inventory grew by what the activity still sells.
func TestAuth_ReleasingAReservationNeedsTheServiceToken(t *testing.T) {
	base := start(t)
	id := create(t, base, "Reserved", 10)
	item := fmt.Sprintf("%s/products/%d", base, id)
	if r := svctest.DoAs(t, svctest.ServiceToken, "POST", item+"/reservations", `{"activity_id":51,"quantity":10}`); r.Status != 201 {
		t.Fatalf("reserve: %d %s", r.Status, r.Raw)
	}
	svctest.CheckDenied(t, svctest.DoAs(t, "", "DELETE", item+"/reservations/51", nil), 401)
	svctest.CheckDenied(t, svctest.Do(t, "DELETE", item+"/reservations/51", nil), 403) // the admin token is not a service token
	p := svctest.Do(t, "GET", item, nil).Data()
	if got, want := [2]int64{svctest.Int(p["inventory"]), svctest.Int(p["reserved"])}, [2]int64{0, 10}; got != want {
		t.Errorf("inventory, reserved = %v after the refused releases, want %v", got, want)
	}
}

// A service without its credentials does not start, and says which
// variables are missing, unless AUTH_DISABLED=true says to run open.
func TestAuth_RefusesToStartWithoutTokens(t *testing.T) {
	url := pgtest.NewDB(t)
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"NoTokens", map[string]string{}, []string{"ADMIN_TOKEN and SERVICE_TOKEN must be set", "AUTH_DISABLED"}},
		{"NoServiceToken", map[string]string{"ADMIN_TOKEN": svctest.AdminToken}, []string{"SERVICE_TOKEN must be set"}},
		{"ShortToken", map[string]string{"ADMIN_TOKEN": "short", "SERVICE_TOKEN": svctest.ServiceToken}, []string{"ADMIN_TOKEN is shorter than 16"}},
		{"SameTokens", map[string]string{"ADMIN_TOKEN": svctest.AdminToken, "SERVICE_TOKEN": svctest.AdminToken}, []string{"must differ"}},
		{"ShortJWTSecret", map[string]string{"ADMIN_TOKEN": svctest.AdminToken, "SERVICE_TOKEN": svctest.ServiceToken, "USER_JWT_SECRET": "0123456789"},
			[]string{"USER_JWT_SECRET is shorter than 32"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"DATABASE_URL": url, "HTTP_ADDR": "127.0.0.1:0"}
			for k, v := range tc.env {
				env[k] = v
			}
			started := false
			err := product.Run(context.Background(), func(k string) string { return env[k] }, io.Discard,
				app.Options{Ready: func(string) { started = true }})
			if err == nil || started {
				t.Fatalf("started (err %v)", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			for _, v := range tc.env {
				if len(v) > 8 && strings.Contains(err.Error(), v) {
					t.Errorf("the error shows a credential: %q", err)
				}
			}
		})
	}
	t.Run("AuthDisabled", func(t *testing.T) {
		base := svctest.Start(t, product.Run, map[string]string{"DATABASE_URL": url, "AUTH_DISABLED": "true", "ADMIN_TOKEN": "", "SERVICE_TOKEN": ""}).URL
		if r := svctest.DoAs(t, "", "POST", base+"/products", `{"name":"Open","price":1,"inventory":1}`); r.Status != 201 {
			t.Errorf("create with auth disabled: %d %s", r.Status, r.Raw)
		}
	})
}

// The request smuggling of issue 22, against the real service: behind a
// request with both Content-Length and Transfer-Encoding: chunked comes,
// in the same write, an administrator's POST /products that a proxy
// framing by the length would have taken for body. The service answers
// the first with one 400 and closes the connection; the second never
// runs, and the catalogue is unchanged.
func TestAuth_NoRequestSmuggledBehindAnother(t *testing.T) {
	pool, url := pgtest.NewPool(t)
	s := svctest.Start(t, product.Run, map[string]string{"DATABASE_URL": url})
	before := pgtest.Rows(t, pool, "product.products")
	body := `{"name":"Smuggled","price":1,"inventory":1}`
	smuggled := "POST /products HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + svctest.AdminToken +
		"\r\nContent-Type: application/json\r\nContent-Length: " + fmt.Sprint(len(body)) + "\r\n\r\n" + body
	raw := "GET /products HTTP/1.1\r\nHost: x\r\nContent-Length: " + fmt.Sprint(5+len(smuggled)) +
		"\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled

	conn, err := net.Dial("tcp", strings.TrimPrefix(s.Direct, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second)) // bounds a server that wrongly keeps the connection
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !resp.Close || !strings.Contains(string(b), `"status_code":400`) {
		t.Errorf("first answer %d (close %v) %s; want a 400 envelope and Connection: close", resp.StatusCode, resp.Close, b)
	}
	if n, err := br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("after the 400: read %d bytes, %v; want the connection closed", n, err)
	}
	if after := pgtest.Rows(t, pool, "product.products"); after != before {
		t.Errorf("the smuggled request ran: products\n%s\nwant\n%s", after, before)
	}
}
