package order

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/platform/httpx"
)

// FuzzDecodeRequests: every order request body decodes strictly or fails
// with Invalid or TooLarge, never panics, validates without panicking, and
// a decoded request re-encodes to a body that decodes to the same value.
func FuzzDecodeRequests(f *testing.F) {
	for _, s := range []string{`{"id":"0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10","user_id":1,"activity_id":1,"product_id":1,"quantity":1,"price":1}`,
		`{"orders":[{"id":"0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10","user_id":1,"activity_id":1,"product_id":1,"quantity":1,"price":9.99}]}`,
		`{"orders":[{"id":"x"}]}`, `{"orders":[]}`, `{"orders":null}`, `{"id":"{0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10}"}`,
		`{"id":"urn:uuid:0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10"}`, `{"id":"0193a5e48f7e7b7c9a412c1f4e8b9d10"}`,
		`{"price":0.001}`, `{"price":null}`, `{"quantity":2147483648}`, `{"id":"'; DROP TABLE orders.orders;--"}`,
		`{"orders":[{},{}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, dst := range []any{&CreateRequest{}, &BatchRequest{}} {
			checkDecode(t, b, dst)
		}
	})
}

// checkDecode decodes b into dst as a handler would and checks the
// invariants every request decoder shares.
func checkDecode(t *testing.T, b []byte, dst any) {
	t.Helper()
	if err := httpx.DecodeJSON(bytes.NewReader(b), dst); err != nil {
		var e *errs.Error
		if !errors.As(err, &e) || (e.Code != errs.Invalid && e.Code != errs.TooLarge) {
			t.Fatalf("%T from %q: error %v, want an *errs.Error coded invalid or too_large", dst, b, err)
		}
		return
	}
	_ = dst.(httpx.Validator).Valid()
	enc, err := json.Marshal(dst)
	if err != nil {
		t.Fatalf("%T from %q: %+v does not encode: %v", dst, b, dst, err)
	}
	again := reflect.New(reflect.TypeOf(dst).Elem()).Interface()
	if err := httpx.DecodeJSON(bytes.NewReader(enc), again); err != nil || !reflect.DeepEqual(dst, again) {
		t.Fatalf("%T from %q: re-encoded as %s, which decodes to %+v, %v; want %+v", dst, b, enc, again, err, dst)
	}
}

// FuzzPathOrderID: an order id in a path is a UUID in its 36-character
// form (any case) or an Invalid error.
func FuzzPathOrderID(f *testing.F) {
	for _, s := range []string{"0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10", "0193A5E4-8F7E-7B7C-9A41-2C1F4E8B9D10", "123",
		"urn:uuid:0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10", "{0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10}",
		"0193a5e48f7e7b7c9a412c1f4e8b9d10", "", "' OR 1=1 --", "00000000-0000-0000-0000-000000000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := httptest.NewRequest("GET", "/", nil)
		rctx := chi.NewRouteContext()
		rctx.URLParams.Add("id", s)
		r = r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, rctx))
		id, err := pathOrderID(r)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("pathOrderID(%q): %v, want Invalid", s, err)
			}
			return
		}
		if !strings.EqualFold(id.String(), s) {
			t.Fatalf("pathOrderID(%q) = %s", s, id)
		}
	})
}

// FuzzListFilter: GET /orders' query gives a filter of positive ids (0 when
// absent) and a page within its bounds, or an Invalid error.
func FuzzListFilter(f *testing.F) {
	for _, q := range []string{"", "user_id=7", "activity_id=3&user_id=9&limit=5&offset=10", "user_id=0", "user_id=-1",
		"user_id=abc", "user_id=9223372036854775808", "limit=0", "limit=101", "offset=-1", "user_id=1&user_id=2",
		"user_id=%27%20OR%201=1", "activity_id=+5", "user_id=", "user_id=007"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		r := httptest.NewRequest("GET", "/orders", nil)
		r.URL.RawQuery = q
		got, err := listFilter(r)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("listFilter(%q): %v, want Invalid", q, err)
			}
			return
		}
		if got.UserID < 0 || got.ActivityID < 0 || got.Limit < 1 || got.Limit > 100 || got.Offset < 0 {
			t.Fatalf("listFilter(%q) = %+v", q, got)
		}
		if v := r.URL.Query().Get("user_id"); v != "" {
			if n, err := strconv.ParseInt(v, 10, 64); err != nil || n != got.UserID {
				t.Fatalf("listFilter(%q): user_id %d from %q", q, got.UserID, v)
			}
		}
	})
}
