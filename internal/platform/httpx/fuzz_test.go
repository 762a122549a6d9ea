package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"testing"

	"github.com/seckill/seckill/internal/platform/errs"
)

// The fuzz targets of the request plumbing every service shares. Their seed
// corpora live in testdata/fuzz/<target>/ and run with every `go test`;
// `make fuzz` explores beyond them.

// checkDecodeError fails unless err is an *errs.Error saying the input was
// bad: Invalid or TooLarge, never a 500.
func checkDecodeError(t *testing.T, in []byte, err error) {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) || (e.Code != errs.Invalid && e.Code != errs.TooLarge) {
		t.Fatalf("decoding %q: error %v (%T), want an *errs.Error coded invalid or too_large", in, err, err)
	}
}

// FuzzDecodeJSON: strict decoding never panics, fails only with Invalid or
// TooLarge, and what it accepts re-encodes to a body it accepts again as
// the same value. Behind a size limit it either decodes the same or says
// TooLarge or Invalid.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"name":"a","count":1}`, `{}`, `[]`, `{"name":"a"}{}`, `{"count":1e3}`,
		`{"count":-9223372036854775808}`, `nul`, "{\"name\":\"\\u0000\"}", `{"name":"\ud800"}`, `{"NAME":"a"}`,
		`{"name":"a","name":"b"}`, " \t\r\n{} ", `{"count":1.0}`, `{"x":1}`, "{\"name\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v item
		err := DecodeJSON(bytes.NewReader(b), &v)
		if err != nil {
			checkDecodeError(t, b, err)
		} else {
			again, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("%q decoded to %+v, which does not encode: %v", b, v, err)
			}
			var w item
			if err := DecodeJSON(bytes.NewReader(again), &w); err != nil || !reflect.DeepEqual(v, w) {
				t.Fatalf("round trip of %q: %v, %+v != %+v", b, err, v, w)
			}
			_ = v.Valid()
		}

		const limit = 32
		var l item
		lerr := DecodeJSON(http.MaxBytesReader(nil, io.NopCloser(bytes.NewReader(b)), limit), &l)
		switch {
		case len(b) <= limit && (errs.CodeOf(lerr) != errs.CodeOf(err) || l != v):
			t.Fatalf("%q under a %d-byte limit: %+v, %v; without: %+v, %v", b, limit, l, lerr, v, err)
		case lerr != nil:
			checkDecodeError(t, b, lerr)
		}
	})
}

// FuzzParseID: ParseID accepts exactly the canonical decimal texts of
// positive int64s (no sign, no leading zeros: one spelling per id) and
// refuses the rest with Invalid.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1", "0", "-1", "9223372036854775807", "9223372036854775808", "01", "+1", "1e3", " 1",
		"", "0x10", "1_000", "١", "1 OR 1=1", "'; DROP TABLE product.products; --"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID("id", s)
		want, perr := strconv.ParseInt(s, 10, 64)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("ParseID(%q): %v, want an Invalid error", s, err)
			}
			if perr == nil && want > 0 && strconv.FormatInt(want, 10) == s {
				t.Fatalf("ParseID(%q) refused the positive id %d", s, want)
			}
			return
		}
		if id <= 0 || perr != nil || id != want || strconv.FormatInt(id, 10) != s {
			t.Fatalf("ParseID(%q) = %d; strconv says %d, %v", s, id, want, perr)
		}
	})
}

// FuzzPage: any limit and offset text gives either a page within bounds or
// an Invalid error naming the bad parameter.
func FuzzPage(f *testing.F) {
	for _, s := range [][2]string{{"", ""}, {"20", "0"}, {"0", "-1"}, {"101", "1"}, {"1 OR 1=1", "0;DROP"},
		{"99999999999999999999", "9223372036854775807"}, {"+5", "007"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, limit, offset string) {
		q := url.Values{}
		if limit != "" {
			q.Set("limit", limit)
		}
		if offset != "" {
			q.Set("offset", offset)
		}
		r := httptest.NewRequest("GET", "/?"+q.Encode(), nil)
		l, o, err := Page(r)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("Page(limit=%q, offset=%q): %v, want Invalid", limit, offset, err)
			}
			return
		}
		if l < 1 || l > 100 || o < 0 {
			t.Fatalf("Page(limit=%q, offset=%q) = %d, %d: out of bounds", limit, offset, l, o)
		}
	})
}
