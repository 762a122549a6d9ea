package product

import (
	"bytes"
	"testing"

	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/platform/httpx"
)

// FuzzDecodeRequests: every product request decoder fails only with
// Invalid or TooLarge, and never panics, and validation never panics.
func FuzzDecodeRequests(f *testing.F) {
	for _, s := range []string{`{"name":"a","price":9.99,"inventory":1}`, `{"price":"1"}`, `{"inventory":-1}`,
		`{"activity_id":1,"quantity":2}`, `{"price":1e999}`, `{"name":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, dst := range []any{&CreateRequest{}, &UpdateRequest{}, &ReserveRequest{}} {
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
