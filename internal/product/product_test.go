package product_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/seckill/seckill/internal/platform/app"
	"github.com/seckill/seckill/internal/product"
	"github.com/seckill/seckill/internal/testing/pgtest"
	"github.com/seckill/seckill/internal/testing/svctest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func start(t *testing.T) string {
	t.Helper()
	return svctest.Start(t, product.Run, map[string]string{"DATABASE_URL": pgtest.NewDB(t)}).URL
}

func create(t *testing.T, base, name string, inventory int) int64 {
	t.Helper()
	r := svctest.Do(t, "POST", base+"/products", map[string]any{"name": name, "price": 9.99, "inventory": inventory})
	if r.Status != http.StatusCreated {
		t.Fatalf("create %q: %d %s", name, r.Status, r.Raw)
	}
	return svctest.Int(r.Data()["id"])
}

func TestProduct_CRUD(t *testing.T) {
	base := start(t)

	r := svctest.Do(t, "POST", base+"/products", `{"name":"Keyboard","description":"87 keys","price":19.90,"inventory":5}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	if got, want := string(r.Raw), `"price":19.90`; !strings.Contains(got, want) {
		t.Errorf("create answered %s, want it to contain %s", got, want)
	}
	if svctest.Int(r.Body["code"]) != 0 || r.Body["message"] != "ok" {
		t.Errorf("not a success envelope: %s", r.Raw)
	}
	id := svctest.Int(r.Data()["id"])

	r = svctest.Do(t, "GET", fmt.Sprintf("%s/products/%d", base, id), nil)
	if r.Status != 200 || r.Data()["name"] != "Keyboard" || svctest.Int(r.Data()["inventory"]) != 5 {
		t.Fatalf("get: %d %s", r.Status, r.Raw)
	}

	r = svctest.Do(t, "PUT", fmt.Sprintf("%s/products/%d", base, id), `{"price":0.1,"inventory":7}`)
	if r.Status != 200 || !strings.Contains(string(r.Raw), `"price":0.10`) || svctest.Int(r.Data()["inventory"]) != 7 ||
		r.Data()["name"] != "Keyboard" {
		t.Fatalf("update: %d %s", r.Status, r.Raw)
	}

	create(t, base, "Mouse", 1)
	r = svctest.Do(t, "GET", base+"/products?limit=1&offset=1", nil)
	page, _ := r.Body["pagination"].(map[string]any)
	if r.Status != 200 || svctest.Int(page["total"]) != 2 || svctest.Int(page["limit"]) != 1 || svctest.Int(page["offset"]) != 1 {
		t.Fatalf("list: %d %s", r.Status, r.Raw)
	}
	if items, _ := r.Body["data"].([]any); len(items) != 1 {
		t.Fatalf("list returned %d items, want 1: %s", len(items), r.Raw)
	}

	r = svctest.Do(t, "DELETE", fmt.Sprintf("%s/products/%d", base, id), nil)
	if r.Status != 200 {
		t.Fatalf("delete: %d %s", r.Status, r.Raw)
	}
	svctest.CheckError(t, svctest.Do(t, "GET", fmt.Sprintf("%s/products/%d", base, id), nil), 404)
}

func TestProduct_BadInput(t *testing.T) {
	base := start(t)
	id := create(t, base, "Existing", 3)
	item := fmt.Sprintf("%s/products/%d", base, id)
	for _, tc := range []struct {
		name, method, url string
		body              any
		status            int
	}{
		{"MalformedJSON", "POST", base + "/products", `{"name":`, 400},
		{"NotJSON", "POST", base + "/products", `hello`, 400},
		{"EmptyBody", "POST", base + "/products", ``, 400},
		{"UnknownField", "POST", base + "/products", `{"name":"a","price":1,"inventory":1,"color":"red"}`, 400},
		{"TrailingData", "POST", base + "/products", `{"name":"a","price":1,"inventory":1}{}`, 400},
		{"WrongTypeName", "POST", base + "/products", `{"name":5,"price":1,"inventory":1}`, 400},
		{"WrongTypeInventory", "POST", base + "/products", `{"name":"a","price":1,"inventory":"7"}`, 400},
		{"FractionalInventory", "POST", base + "/products", `{"name":"a","price":1,"inventory":1.5}`, 400},
		{"NegativeInventory", "POST", base + "/products", `{"name":"a","price":1,"inventory":-1}`, 400},
		{"NegativePrice", "POST", base + "/products", `{"name":"a","price":-1,"inventory":1}`, 400},
		{"ThreeDecimals", "POST", base + "/products", `{"name":"a","price":1.999,"inventory":1}`, 400},
		{"PriceAsString", "POST", base + "/products", `{"name":"a","price":"1.99","inventory":1}`, 400},
		{"HugePrice", "POST", base + "/products", `{"name":"a","price":1e20,"inventory":1}`, 400},
		{"HugeInventory", "POST", base + "/products", `{"name":"a","price":1,"inventory":1e30}`, 400},
		{"MissingPrice", "POST", base + "/products", `{"name":"a","inventory":1}`, 400},
		{"BlankName", "POST", base + "/products", `{"name":"  ","price":1,"inventory":1}`, 400},
		{"LongName", "POST", base + "/products", map[string]any{"name": strings.Repeat("n", 251), "price": 1, "inventory": 1}, 400},
		{"LongDescription", "POST", base + "/products", map[string]any{"name": "d", "description": strings.Repeat("d", 601), "price": 1, "inventory": 1}, 400},
		{"NULInName", "POST", base + "/products", `{"name":"a\u0000b","price":1,"inventory":1}`, 400},
		{"DuplicateName", "POST", base + "/products", `{"name":"Existing","price":1,"inventory":1}`, 409},
		{"Oversize", "POST", base + "/products", `{"name":"` + strings.Repeat("x", 2<<20) + `"}`, 413},
		{"DuplicateKey", "POST", base + "/products", `{"name":"a","name":"b","price":1,"inventory":1}`, 400},
		{"DuplicateKeyOtherCase", "POST", base + "/products", `{"name":"a","NAME":"b","price":1,"inventory":1}`, 400},
		{"InvalidUTF8", "POST", base + "/products", "{\"name\":\"bad \xff\xfe\",\"price\":1,\"inventory\":1}", 400},
		{"SignedID", "GET", base + "/products/+1", nil, 400},
		{"LeadingZeroID", "GET", item[:strings.LastIndex(item, "/")+1] + "0" + item[strings.LastIndex(item, "/")+1:], nil, 400},
		{"RepeatedQuery", "GET", base + "/products?limit=1&limit=2", nil, 400},
		{"SignedLimit", "GET", base + "/products?limit=+5", nil, 400},
		{"NonNumericID", "GET", base + "/products/abc", nil, 400},
		{"ZeroID", "GET", base + "/products/0", nil, 400},
		{"OverflowID", "GET", base + "/products/99999999999999999999", nil, 400},
		{"UnknownID", "GET", base + "/products/987654", nil, 404},
		{"UpdateUnknown", "PUT", base + "/products/987654", `{"price":1}`, 404},
		{"UpdateEmpty", "PUT", item, `{}`, 400},
		{"UpdateNegative", "PUT", item, `{"inventory":-5}`, 400},
		{"DeleteUnknown", "DELETE", base + "/products/987654", nil, 404},
		{"BadLimit", "GET", base + "/products?limit=0", nil, 400},
		{"BadOffset", "GET", base + "/products?offset=-1", nil, 400},
		{"ReserveZero", "POST", item + "/reservations", `{"activity_id":1,"quantity":0}`, 400},
		{"ReserveUnknownProduct", "POST", base + "/products/987654/reservations", `{"activity_id":1,"quantity":1}`, 404},
		{"ReserveTooMuch", "POST", item + "/reservations", `{"activity_id":1,"quantity":4}`, 409},
		{"ReleaseUnknown", "DELETE", item + "/reservations/42", nil, 404},
		{"ReleaseBadID", "DELETE", item + "/reservations/x", nil, 400},
		{"UnknownRoute", "GET", base + "/nope", nil, 404},
		{"WrongMethod", "PATCH", item, `{}`, 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := svctest.AdminToken
			if strings.Contains(tc.url, "/reservations") {
				token = svctest.ServiceToken
			}
			svctest.CheckError(t, svctest.DoAs(t, token, tc.method, tc.url, tc.body), tc.status)
		})
	}
	// Messages name the field and say what it expects, in the client's terms.
	for _, tc := range []struct {
		name, body, field, msg string
	}{
		{"ThreeDecimals", `{"name":"a","price":1.999,"inventory":1}`, "price", "must be a number with at most two decimals, from 0 to 9999999999.99"},
		{"PriceAsString", `{"name":"a","price":"1.99","inventory":1}`, "price", "must be a number with at most two decimals, from 0 to 9999999999.99"},
		{"UnknownField", `{"name":"a","price":1,"inventory":1,"color":"red"}`, "color", "is not a known field"},
		{"WrongType", `{"name":"a","price":1,"inventory":"7"}`, "inventory", "must be an integer"},
	} {
		r := svctest.Do(t, "POST", base+"/products", tc.body)
		fields, _ := r.Body["fields"].(map[string]any)
		if got := fields[tc.field]; r.Status != 400 || got != tc.msg {
			t.Errorf("%s: %d fields[%s] = %v, want 400 with %q (body %s)", tc.name, r.Status, tc.field, got, tc.msg, r.Raw)
		}
	}
	if r := svctest.Do(t, "PATCH", item, nil); r.Header.Get("Allow") != "GET, PUT, DELETE" {
		t.Errorf("405 with Allow %q, want %q", r.Header.Get("Allow"), "GET, PUT, DELETE")
	}
	// Nothing above changed anything.
	r := svctest.Do(t, "GET", base+"/products", nil)
	page, _ := r.Body["pagination"].(map[string]any)
	if got := svctest.Int(page["total"]); got != 1 {
		t.Errorf("products after bad input = %d, want 1: %s", got, r.Raw)
	}
	r = svctest.Do(t, "GET", item, nil)
	if got, want := svctest.Int(r.Data()["inventory"]), int64(3); got != want {
		t.Errorf("inventory = %d, want %d", got, want)
	}
}

// A JSON endpoint reads only bodies declared JSON (or not declared): a
// form or text/plain, which a browser sends across origins unasked, is
// refused with 415 and nothing is written.
func TestProduct_ContentType(t *testing.T) {
	base := start(t)
	for _, tc := range []struct {
		ct     string
		status int
	}{
		{"text/plain", 415},
		{"application/x-www-form-urlencoded", 415},
		{"multipart/form-data; boundary=x", 415},
		{"application/json; charset=latin1", 415},
		{"application/json", 201},
		{"Application/JSON; charset=UTF-8", 201},
		{"", 201},
	} {
		req, _ := http.NewRequest("POST", base+"/products", strings.NewReader(fmt.Sprintf(`{"name":"ct %x","price":1,"inventory":1}`, tc.ct)))
		if tc.ct != "" {
			req.Header.Set("Content-Type", tc.ct)
		}
		req.Header.Set("Authorization", "Bearer "+svctest.AdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("Content-Type %q: %d, want %d", tc.ct, resp.StatusCode, tc.status)
		}
	}
	r := svctest.Do(t, "GET", base+"/products", nil)
	if got := svctest.Int(r.Body["pagination"].(map[string]any)["total"]); got != 3 {
		t.Errorf("%d products, want the 3 sent as JSON", got)
	}
}

func TestProduct_Reservations(t *testing.T) {
	base := start(t)
	id := create(t, base, "Phone", 10)
	item := fmt.Sprintf("%s/products/%d", base, id)

	r := svctest.DoAs(t, svctest.ServiceToken, "POST", item+"/reservations", `{"activity_id":1,"quantity":4}`)
	if r.Status != 201 {
		t.Fatalf("reserve: %d %s", r.Status, r.Raw)
	}
	t.Run("RepeatIsIdempotent", func(t *testing.T) {
		r := svctest.DoAs(t, svctest.ServiceToken, "POST", item+"/reservations", `{"activity_id":1,"quantity":4}`)
		if r.Status != 200 || svctest.Int(r.Data()["quantity"]) != 4 {
			t.Fatalf("repeat: %d %s", r.Status, r.Raw)
		}
		p := svctest.Do(t, "GET", item, nil).Data()
		if got, want := [2]int64{svctest.Int(p["inventory"]), svctest.Int(p["reserved"])}, [2]int64{6, 4}; got != want {
			t.Errorf("inventory, reserved = %v, want %v", got, want)
		}
	})
	t.Run("DeleteRefusedWhileReserved", func(t *testing.T) {
		svctest.CheckError(t, svctest.Do(t, "DELETE", item, nil), 409)
	})
	t.Run("ReleaseReturnsInventory", func(t *testing.T) {
		r := svctest.DoAs(t, svctest.ServiceToken, "DELETE", item+"/reservations/1", nil)
		if r.Status != 200 || svctest.Int(r.Data()["quantity"]) != 4 {
			t.Fatalf("release: %d %s", r.Status, r.Raw)
		}
		p := svctest.Do(t, "GET", item, nil).Data()
		if got, want := [2]int64{svctest.Int(p["inventory"]), svctest.Int(p["reserved"])}, [2]int64{10, 0}; got != want {
			t.Errorf("inventory, reserved = %v, want %v", got, want)
		}
		if r := svctest.Do(t, "DELETE", item, nil); r.Status != 200 {
			t.Errorf("delete after release: %d %s", r.Status, r.Raw)
		}
	})
}

// Many activities reserving at once more than the inventory holds: the
// total reserved never exceeds the inventory and every refusal is a 409.
func TestProduct_ConcurrentReservations(t *testing.T) {
	base := start(t)
	const inventory, activities, each = 100, 60, 3 // 180 units asked for, 100 exist
	id := create(t, base, "Console", inventory)
	url := fmt.Sprintf("%s/products/%d/reservations", base, id)

	var wg sync.WaitGroup
	statuses := make([]int, activities)
	for i := range activities {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"activity_id":%d,"quantity":%d}`, i+1, each)
			statuses[i] = svctest.DoAs(t, svctest.ServiceToken, "POST", url, body).Status
		}()
	}
	wg.Wait()
	var granted, refused int
	for i, s := range statuses {
		switch s {
		case 201:
			granted++
		case 409:
			refused++
		default:
			t.Errorf("activity %d: status %d, want 201 or 409", i+1, s)
		}
	}
	if got, want := granted, inventory/each; got != want {
		t.Errorf("granted = %d, want %d (every unit that fits)", got, want)
	}
	p := svctest.Do(t, "GET", fmt.Sprintf("%s/products/%d", base, id), nil).Data()
	if got, want := svctest.Int(p["reserved"]), int64(granted*each); got != want {
		t.Errorf("reserved = %d, want %d", got, want)
	}
	if got := svctest.Int(p["reserved"]) + svctest.Int(p["inventory"]); got != inventory {
		t.Errorf("reserved + inventory = %d, want %d", got, inventory)
	}
	t.Logf("%d reservations granted, %d refused with 409", granted, refused)
}

func TestProduct_HealthAndSwagger(t *testing.T) {
	base := start(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		if r := svctest.Do(t, "GET", base+path, nil); r.Status != 200 {
			t.Errorf("%s: %d %s", path, r.Status, r.Raw)
		}
	}
	r := svctest.Do(t, "GET", base+"/swagger/doc.json", nil)
	if r.Status != 200 || !strings.Contains(string(r.Raw), `"/products/{id}/reservations"`) {
		t.Errorf("swagger doc.json: %d %.200s", r.Status, r.Raw)
	}
	resp, err := http.Get(base + "/swagger/index.html")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("swagger UI: %v %v", err, resp)
	}
	resp.Body.Close()
}

func TestRun_StartupLineNamesTheServiceOnce(t *testing.T) {
	env := map[string]string{"DATABASE_URL": pgtest.NewDB(t), "HTTP_ADDR": "127.0.0.1:0", "JAEGER_DISABLED": "true",
		"ADMIN_TOKEN": svctest.AdminToken, "SERVICE_TOKEN": svctest.ServiceToken}
	var out syncBuffer
	ctx, stop := context.WithCancel(context.Background())
	err := product.Run(ctx, func(k string) string { return env[k] }, &out, app.Options{Ready: func(string) { stop() }})
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(out.String(), "\n")
	if !strings.Contains(first, `"msg":"starting"`) {
		t.Fatalf("first log line is not the startup line: %s", first)
	}
	if got := strings.Count(first, `"service":`); got != 1 {
		t.Errorf("the startup line has %d \"service\" keys, want 1: %s", got, first)
	}
}

// syncBuffer is a bytes.Buffer the service's goroutines may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
