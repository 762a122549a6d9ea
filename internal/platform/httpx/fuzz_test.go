package httpx

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/seckill/seckill/internal/platform/errs"
)

// FuzzDecodeJSON: strict decoding never panics, fails only with Invalid or
// TooLarge, and what it accepts survives a round trip.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"name":"a","count":1}`, `{}`, `[]`, `{"name":"a"}{}`, `{"count":1e3}`, `{"count":-9223372036854775808}`, `nul`, "{\"name\":\"\\u0000\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v item
		err := DecodeJSON(bytes.NewReader(b), &v)
		if err != nil {
			if c := errs.CodeOf(err); c != errs.Invalid && c != errs.TooLarge {
				t.Fatalf("error code %q for %q: %v", c, b, err)
			}
			return
		}
		again, _ := json.Marshal(v)
		var w item
		if err := DecodeJSON(bytes.NewReader(again), &w); err != nil || !reflect.DeepEqual(v, w) {
			t.Fatalf("round trip of %q: %v, %+v != %+v", b, err, v, w)
		}
	})
}

// FuzzParseID: an accepted id is positive and prints back as the input.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1", "0", "-1", "9223372036854775807", "9223372036854775808", "01", "1e3", " 1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID("id", s)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("error code for %q: %v", s, err)
			}
			return
		}
		if id <= 0 {
			t.Fatalf("ParseID(%q) = %d", s, id)
		}
	})
}
