package contract_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	activitydocs "github.com/seckill/seckill/api/activity"
	orderdocs "github.com/seckill/seckill/api/order"
	productdocs "github.com/seckill/seckill/api/product"
	"github.com/seckill/seckill/internal/testing/contract"
)

const product = `{"id":1,"name":"Keyboard","description":"87 keys","price":9.99,"inventory":5,"reserved":0,"sold":0,` +
	`"created_at":"2026-11-01T08:00:00Z","updated_at":"2026-11-01T08:00:00Z"}`

const order = `{"id":"0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10","user_id":10001,"activity_id":1,"product_id":1,"quantity":1,` +
	`"price":9.99,"status":"created","pay_by":"2026-11-11T00:15:00Z","created_at":"2026-11-11T00:00:01Z","updated_at":"2026-11-11T00:00:01Z"}`

// answer is a handler that answers every request with status, body and
// headers, whatever was asked: the deliberately wrong handler.
func answer(status int, body string, headers ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
}

// problems sends one request through the checking middleware to h and
// returns what the check reported.
func problems(t *testing.T, doc []byte, h http.Handler, method, path, body string) []string {
	t.Helper()
	d, err := contract.Load(doc)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	srv := httptest.NewServer(d.Middleware(h, func(p string) { got = append(got, p) }))
	defer srv.Close()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return got
}

func TestCheck_ADocumentedExchangePasses(t *testing.T) {
	for _, tc := range []struct {
		name         string
		doc          []byte
		h            http.Handler
		method, path string
		body         string
	}{
		{"Product", productdocs.JSON(), answer(200, `{"code":0,"message":"ok","data":`+product+`}`), "GET", "/products/1", ""},
		{"NotFound", productdocs.JSON(), answer(404, `{"code":404,"message":"product 1 not found","error":"not_found","status_code":404}`), "GET", "/products/1", ""},
		{"BadInputRefused", productdocs.JSON(), answer(400, `{"code":400,"message":"invalid request: price: is required","error":"invalid","status_code":400,"fields":{"price":"is required"}}`), "POST", "/products", `{"name":"a"}`},
		{"UnknownRoute", productdocs.JSON(), answer(404, `{"code":404,"message":"no route","error":"not_found","status_code":404}`), "GET", "/nope", ""},
		{"MethodNotAllowed", productdocs.JSON(), answer(405, `{"code":405,"message":"no","error":"method_not_allowed","status_code":405}`, "Allow", "GET, PUT, DELETE"), "PATCH", "/products/1", ""},
		{"RateLimited", activitydocs.JSON(), answer(429, `{"code":429,"message":"slow down","error":"too_many_requests","status_code":429}`, "Retry-After", "1"), "POST", "/activities/1/seckill", `{"user_id":5}`},
		{"Order", orderdocs.JSON(), answer(200, `{"code":0,"message":"ok","data":`+order+`}`), "GET", "/orders/0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := problems(t, tc.doc, tc.h, tc.method, tc.path, tc.body); len(got) != 0 {
				t.Errorf("a documented exchange was refused: %q", got)
			}
		})
	}
}

func TestCheck_AWrongHandlerFails(t *testing.T) {
	for _, tc := range []struct {
		name         string
		doc          []byte
		h            http.Handler
		method, path string
		body         string
		want         string
	}{
		{"UndocumentedStatus", productdocs.JSON(), answer(418, `{"code":418,"message":"teapot","error":"teapot","status_code":418}`), "GET", "/products/1", "", "answered 418"},
		{"UndocumentedField", productdocs.JSON(), answer(200, `{"code":0,"message":"ok","data":`+strings.Replace(product, `"id":1`, `"id":1,"color":"red"`, 1)+`}`), "GET", "/products/1", "", "color"},
		{"MissingField", productdocs.JSON(), answer(200, `{"code":0,"message":"ok","data":`+strings.Replace(product, `"price":9.99,`, ``, 1)+`}`), "GET", "/products/1", "", "price"},
		{"ThreeDecimals", productdocs.JSON(), answer(200, `{"code":0,"message":"ok","data":`+strings.Replace(product, `9.99`, `9.999`, 1)+`}`), "GET", "/products/1", "", "price"},
		{"PaginationOnAnObject", productdocs.JSON(), answer(200, `{"code":0,"message":"ok","data":`+product+`,"pagination":{"limit":1,"offset":0,"total":1}}`), "GET", "/products/1", "", "pagination"},
		{"ErrorUnderSuccess", productdocs.JSON(), answer(200, `{"code":404,"message":"product 1 not found","error":"not_found","status_code":404}`), "GET", "/products/1", "", "answered 200"},
		{"SuccessUnderError", productdocs.JSON(), answer(404, `{"code":0,"message":"ok","data":`+product+`}`), "GET", "/products/1", "", "answered 404"},
		{"WrongKindForStatus", productdocs.JSON(), answer(404, `{"code":400,"message":"x","error":"invalid","status_code":400}`), "GET", "/products/1", "", "answered 404"},
		{"AcceptsWhatTheDocumentRefuses", productdocs.JSON(), answer(201, `{"code":0,"message":"ok","data":`+product+`}`), "POST", "/products", `{"name":"a","price":1,"inventory":-1}`, "refuses"},
		{"RetryAfterMissing", activitydocs.JSON(), answer(429, `{"code":429,"message":"slow down","error":"too_many_requests","status_code":429}`), "POST", "/activities/1/seckill", `{"user_id":5}`, "Retry-After"},
		{"MethodNotAllowedWithoutAllow", productdocs.JSON(), answer(405, `{"code":405,"message":"no","error":"method_not_allowed","status_code":405}`), "PATCH", "/products/1", "", "Allow"},
		{"UnknownRouteAnswered", productdocs.JSON(), answer(200, `{"code":0,"message":"ok","data":{}}`), "GET", "/nope", "", "not 404"},
		{"OrderIDNotAUUID", orderdocs.JSON(), answer(200, `{"code":0,"message":"ok","data":`+strings.Replace(order, `"0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10"`, `"7"`, 1)+`}`), "GET", "/orders/0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10", "", "uuid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := problems(t, tc.doc, tc.h, tc.method, tc.path, tc.body)
			if len(got) == 0 {
				t.Fatalf("the wrong answer passed the contract check")
			}
			if all := strings.Join(got, "\n"); !strings.Contains(all, tc.want) {
				t.Errorf("the problem does not mention %q:\n%s", tc.want, all)
			}
		})
	}
}
