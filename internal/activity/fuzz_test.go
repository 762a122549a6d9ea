package activity

import (
	"bytes"
	"testing"

	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/platform/httpx"
)

// FuzzParseUserID: the hand-written parser of the hot path accepts only
// what the strict decoder accepts, with the same user id.
func FuzzParseUserID(f *testing.F) {
	for _, s := range []string{`{"user_id":1}`, ` { "user_id" : 42 } `, `{"user_id":0}`, `{"user_id":-1}`, `{"user_id":01}`,
		`{"user_id":1.0}`, `{"user_id":9223372036854775807}`, `{"user_id":9223372036854775808}`, `{"user_id":1,"x":2}`,
		`{"user_id":1}{}`, `{"user_id":"1"}`, `{"USER_ID":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		u, ok := parseUserID(b)
		var req SeckillRequest
		err := httpx.DecodeJSON(bytes.NewReader(b), &req)
		if ok && (err != nil || req.UserID != u || u <= 0) {
			t.Fatalf("fast parser took %q as %d; strict decoder says %d, %v", b, u, req.UserID, err)
		}
	})
}

// FuzzDecodeRequests: every activity request decoder fails only with
// Invalid or TooLarge, and never panics.
func FuzzDecodeRequests(f *testing.F) {
	for _, s := range []string{`{"name":"a","product_id":1,"stock":1,"start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-02T00:00:00Z"}`,
		`{"stock":null}`, `{"start_time":"yesterday"}`, `{"end_time":1}`, `{"name":"` + "\xff" + `"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, dst := range []any{&CreateRequest{}, &UpdateRequest{}, &SeckillRequest{}} {
			err := httpx.DecodeJSON(bytes.NewReader(b), dst)
			if err == nil {
				if v, ok := dst.(interface{ Valid() httpx.FieldErrors }); ok {
					_ = v.Valid()
				}
				continue
			}
			if c := errs.CodeOf(err); c != errs.Invalid && c != errs.TooLarge {
				t.Fatalf("%T: error code %q for %q: %v", dst, c, b, err)
			}
		}
	})
}
