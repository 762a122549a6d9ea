package activity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/platform/httpx"
)

// FuzzParseUserID: the hand-written parser of the hot path accepts only
// what the strict decoder accepts, with the same positive user id, and it
// does accept the compact body every client sends. readUserID, which puts
// the two together, answers a positive id or an Invalid/TooLarge error.
func FuzzParseUserID(f *testing.F) {
	for _, s := range []string{`{"user_id":1}`, ` { "user_id" : 42 } `, "{\"user_id\":\t7\r\n}", `{"user_id":0}`,
		`{"user_id":-1}`, `{"user_id":01}`, `{"user_id":1.0}`, `{"user_id":1e3}`, `{"user_id":9223372036854775807}`,
		`{"user_id":9223372036854775808}`, `{"user_id":99999999999999999999}`, `{"user_id":1,"x":2}`, `{"user_id":1}{}`,
		`{"user_id":1}x`, `{"user_id":"1"}`, `{"USER_ID":1}`, `{"user\u005fid":1}`, `{"user_id":1,"user_id":2}`,
		`{"user_id":null}`, `{"user_id":1 OR 1=1}`, `{"user_id":"1; DROP TABLE activity.winners; --"}`, `{"user_id":1`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		u, ok := parseUserID(b)
		var req SeckillRequest
		err := httpx.DecodeJSON(bytes.NewReader(b), &req)
		if ok && (err != nil || req.UserID != u || u <= 0) {
			t.Fatalf("fast parser took %q as %d; strict decoder says %d, %v", b, u, req.UserID, err)
		}
		if !ok && err == nil && req.UserID > 0 && bytes.Equal(b, fmt.Appendf(nil, `{"user_id":%d}`, req.UserID)) {
			t.Fatalf("fast parser refused the plain body %q", b)
		}

		r := httptest.NewRequest("POST", "/activities/1/seckill", bytes.NewReader(b))
		buf := make([]byte, 0, 512)
		got, rerr := readUserID(httptest.NewRecorder(), r, &buf)
		switch {
		case rerr == nil && (got <= 0 || err != nil || got != req.UserID):
			t.Fatalf("readUserID(%q) = %d; strict decoder says %d, %v", b, got, req.UserID, err)
		case rerr != nil && err == nil && req.UserID > 0:
			t.Fatalf("readUserID(%q) refused user %d: %v", b, req.UserID, rerr)
		case rerr != nil:
			checkDecodeError(t, b, rerr)
		}
	})
}

// FuzzDecodeRequests: every activity request body decodes strictly or
// fails with Invalid or TooLarge, never panics, validates without
// panicking, and a decoded request re-encodes to a body that decodes to an
// equal value.
func FuzzDecodeRequests(f *testing.F) {
	for _, s := range []string{`{"name":"a","product_id":1,"stock":1,"start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-02T00:00:00Z"}`,
		`{"name":"b","start_time":"2026-01-01T08:00:00+08:00","end_time":"2026-01-01T00:00:00.123456789-01:30"}`,
		`{"stock":null}`, `{"start_time":"yesterday"}`, `{"end_time":1}`, "{\"name\":\"\xff\"}", `{"name":"\u0000"}`,
		`{"start_time":"0000-01-01T00:00:00+23:59"}`, `{"end_time":"9999-12-31T23:59:59-23:59"}`, `{"user_id":5}`,
		`{"stock":10000001}`, `{"product_id":-1}`, `{"name":"Robert'); DROP TABLE orders.orders;--"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, dst := range []any{&CreateRequest{}, &UpdateRequest{}, &SeckillRequest{}} {
			checkDecode(t, b, dst)
		}
	})
}

func checkDecodeError(t *testing.T, b []byte, err error) {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) || (e.Code != errs.Invalid && e.Code != errs.TooLarge) {
		t.Fatalf("decoding %q: error %v, want an *errs.Error coded invalid or too_large", b, err)
	}
}

// checkDecode decodes b into dst as a handler would and checks the
// invariants every request decoder shares. Times are compared by their
// encoding: a decoded time keeps its offset, not its *time.Location.
func checkDecode(t *testing.T, b []byte, dst any) {
	t.Helper()
	if err := httpx.DecodeJSON(bytes.NewReader(b), dst); err != nil {
		checkDecodeError(t, b, err)
		return
	}
	if v, ok := dst.(httpx.Validator); ok {
		_ = v.Valid()
	}
	enc, err := json.Marshal(dst)
	if err != nil {
		t.Fatalf("%T from %q: %+v does not encode: %v", dst, b, dst, err)
	}
	again := reflect.New(reflect.TypeOf(dst).Elem()).Interface()
	if err := httpx.DecodeJSON(bytes.NewReader(enc), again); err != nil {
		t.Fatalf("%T from %q: re-encoded as %s, which does not decode: %v", dst, b, enc, err)
	}
	if enc2, _ := json.Marshal(again); !bytes.Equal(enc, enc2) {
		t.Fatalf("%T from %q: re-encoded as %s, which decodes to a value encoded as %s", dst, b, enc, enc2)
	}
}
