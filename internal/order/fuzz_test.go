package order

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/platform/httpx"
)

// FuzzDecodeRequests: the order decoders fail only with Invalid or
// TooLarge, never panic, and validation never panics.
func FuzzDecodeRequests(f *testing.F) {
	for _, s := range []string{`{"id":"0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10","user_id":1,"activity_id":1,"product_id":1,"quantity":1,"price":1}`,
		`{"orders":[{"id":"x"}]}`, `{"orders":[]}`, `{"id":"{0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10}"}`, `{"price":0.001}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, dst := range []any{&CreateRequest{}, &BatchRequest{}} {
			err := httpx.DecodeJSON(bytes.NewReader(b), dst)
			if err == nil {
				_ = dst.(interface{ Valid() httpx.FieldErrors }).Valid()
				continue
			}
			if c := errs.CodeOf(err); c != errs.Invalid && c != errs.TooLarge {
				t.Fatalf("%T: error code %q for %q: %v", dst, c, b, err)
			}
		}
	})
}

// FuzzPathOrderID: only canonical UUIDs are accepted as order ids.
func FuzzPathOrderID(f *testing.F) {
	for _, s := range []string{"0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10", "123", "urn:uuid:0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := httptest.NewRequest("GET", "/", nil)
		rctx := chi.NewRouteContext()
		rctx.URLParams.Add("id", s)
		r = r.WithContext(chiContext(r, rctx))
		id, err := pathOrderID(r)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("error code for %q: %v", s, err)
			}
			return
		}
		if id.String() != s && len(s) != 36 {
			t.Fatalf("accepted %q as %s", s, id)
		}
	})
}
