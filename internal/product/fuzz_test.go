package product

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/platform/httpx"
)

// FuzzDecodeRequests: every product request body decodes strictly or fails
// with Invalid or TooLarge, never panics, validates without panicking, and
// a decoded request re-encodes to a body that decodes to the same value.
func FuzzDecodeRequests(f *testing.F) {
	for _, s := range []string{`{"name":"a","price":9.99,"inventory":1}`, `{"name":"a","description":"b","price":0,"inventory":0}`,
		`{"price":"1"}`, `{"inventory":-1}`, `{"activity_id":1,"quantity":2}`, `{"price":1e999}`, `{"price":1e2}`,
		`{"name":null}`, `{"name":"'; DROP TABLE product.products; --","price":1,"inventory":1}`,
		`{"description":"\u0000"}`, `{"price":0.001}`, `{"inventory":9223372036854775808}`, `{"quantity":1.5}`,
		`{"name":"a","name":"b"}`, `{"Name":"case"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, dst := range []any{&CreateRequest{}, &UpdateRequest{}, &ReserveRequest{}} {
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
