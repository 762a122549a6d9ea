package httpx

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/platform/money"
)

type item struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

func (i item) Valid() errs.FieldErrors {
	p := errs.FieldErrors{}
	if i.Name == "" {
		p["name"] = "is required"
	}
	return p
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		code       errs.Code
		msg        string
	}{
		{"OK", `{"name":"a","count":2}`, "", ""},
		{"Empty", ``, errs.Invalid, "request body is empty"},
		{"Syntax", `{"name":}`, errs.Invalid, "malformed JSON at byte"},
		{"Truncated", `{"name":"a"`, errs.Invalid, "not complete JSON"},
		{"UnknownField", `{"name":"a","x":1}`, errs.Invalid, `x: is not a known field`},
		{"WrongType", `{"name":"a","count":"2"}`, errs.Invalid, `count: must be an integer`},
		{"Fraction", `{"name":"a","count":2.5}`, errs.Invalid, `count: must be an integer`},
		{"Trailing", `{"name":"a"} {}`, errs.Invalid, "a single JSON value"},
		{"TrailingGarbage", `{"name":"a"} x`, errs.Invalid, "a single JSON value"},
		{"NotObject", `[1,2]`, errs.Invalid, "must be an object"},
		{"Invalid", `{"count":1}`, errs.Invalid, "name: is required"},
		{"TooLarge", `{"name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, errs.TooLarge, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
			_, err := Decode[item](httptest.NewRecorder(), r)
			if got := errs.CodeOf(err); got != tc.code {
				t.Fatalf("code = %q, want %q (err %v)", got, tc.code, err)
			}
			if tc.msg != "" && !strings.Contains(errs.MessageOf(err), tc.msg) {
				t.Errorf("message %q does not contain %q", errs.MessageOf(err), tc.msg)
			}
		})
	}
}

// typed has fields whose own decoders refuse bad values without saying
// which field they belong to.
type typed struct {
	At    time.Time    `json:"at"`
	ID    uuid.UUID    `json:"id"`
	Price *money.Cents `json:"price"`
	Items []struct {
		Price money.Cents `json:"price"`
	} `json:"items"`
}

func TestDecode_NamesTheFieldAndWhatItExpects(t *testing.T) {
	for _, tc := range []struct {
		name, body, field, want string
	}{
		{"Time", `{"at":"tomorrow"}`, "at", "must be an RFC 3339 time such as 2030-01-02T15:04:05Z"},
		{"UUID", `{"id":"abc"}`, "id", "must be a UUID such as 0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10"},
		{"Price", `{"price":1.999}`, "price", money.ErrFormat.Message},
		{"PriceAsString", `{"price":"1.99"}`, "price", money.ErrFormat.Message},
		{"NestedPrice", `{"items":[{"price":1},{"price":-1}]}`, "items[1].price", money.ErrFormat.Message},
		{"UUIDAsNumber", `{"items":[{"price":1}],"id":5}`, "id", "must be a UUID such as 0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode[typed](httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(tc.body)))
			if errs.CodeOf(err) != errs.Invalid {
				t.Fatalf("err = %v, want an Invalid error", err)
			}
			rec := httptest.NewRecorder()
			Error(rec, httptest.NewRequest("POST", "/", nil), err)
			var env ErrorEnvelope
			if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
				t.Fatal(err)
			}
			if got := env.Fields[tc.field]; got != tc.want {
				t.Errorf("fields[%q] = %q, want %q (body %s)", tc.field, got, tc.want, rec.Body)
			}
			for _, leak := range []string{"2006", "parsing time", "invalid UUID", "json:"} {
				if strings.Contains(rec.Body.String(), leak) {
					t.Errorf("the answer shows library text %q: %s", leak, rec.Body)
				}
			}
		})
	}
}

func TestError_EnvelopeAndStatus(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		kind   string
		msg    string
	}{
		{errs.E(errs.NotFound, "product 7 not found"), 404, "not_found", "product 7 not found"},
		{errs.E(errs.Conflict, "taken"), 409, "conflict", "taken"},
		{errs.InvalidFields(errs.FieldErrors{"b": "bad", "a": "worse"}), 400, "invalid", "invalid request: a: worse; b: bad"},
		{errs.E(errs.TooManyRequests, "slow down"), 429, "too_many_requests", "slow down"},
		{errs.Wrap(errs.Unavailable, errString("dial tcp: refused"), "database unavailable"), 503, "unavailable", "database unavailable"},
		{errString("secret internal detail"), 500, "internal", "internal error"},
	} {
		w := httptest.NewRecorder()
		Error(w, httptest.NewRequest("GET", "/", nil), tc.err)
		var env ErrorEnvelope
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
			t.Fatal(err)
		}
		if w.Code != tc.status || env.StatusCode != tc.status || env.Code != tc.status || env.Error != tc.kind || env.Message != tc.msg {
			t.Errorf("%v: got %d %+v", tc.err, w.Code, env)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestParseIDAndPage(t *testing.T) {
	for s, ok := range map[string]bool{"1": true, "9223372036854775807": true, "0": false, "-1": false, "1.5": false,
		"abc": false, "": false, "9223372036854775808": false, " 1": false} {
		if _, err := ParseID("id", s); (err == nil) != ok {
			t.Errorf("ParseID(%q) err = %v, want ok=%v", s, err, ok)
		}
	}
	for q, ok := range map[string]bool{"": true, "limit=100&offset=5": true, "limit=0": false, "limit=101": false,
		"offset=-1": false, "limit=x": false} {
		_, _, err := Page(httptest.NewRequest("GET", "/?"+q, nil))
		if (err == nil) != ok {
			t.Errorf("Page(%q) err = %v, want ok=%v", q, err, ok)
		}
	}
}

func TestMiddleware(t *testing.T) {
	h := Recover(RequestID(CORS(CORSConfig{AllowOrigin: "*", AllowMethods: "GET", AllowHeaders: "Content-Type", MaxAge: 60})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/panic" {
				panic("boom")
			}
			OK(w, RequestIDFrom(r.Context()))
		}))))

	t.Run("PanicBecomes500Envelope", func(t *testing.T) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/panic", nil))
		if w.Code != 500 || !strings.Contains(w.Body.String(), `"status_code":500`) {
			t.Errorf("got %d %s", w.Code, w.Body)
		}
	})
	t.Run("RequestIDIsKeptOrMade", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set(RequestIDHeader, "abc-123")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Header().Get(RequestIDHeader); got != "abc-123" || !strings.Contains(w.Body.String(), "abc-123") {
			t.Errorf("request id %q, body %s", got, w.Body)
		}
		r.Header.Set(RequestIDHeader, "bad id\n")
		w = httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Header().Get(RequestIDHeader); got == "" || got == "bad id\n" {
			t.Errorf("an unsafe request id was echoed: %q", got)
		}
	})
	t.Run("NoCORSHeadersWithoutOrigin", func(t *testing.T) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("Access-Control-Allow-Origin = %q on a request without Origin", got)
		}
	})
	t.Run("CORSPreflight", func(t *testing.T) {
		r := httptest.NewRequest("OPTIONS", "/", nil)
		r.Header.Set("Origin", "https://shop.example")
		r.Header.Set("Access-Control-Request-Method", "GET")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 204 || w.Header().Get("Access-Control-Allow-Origin") != "*" || w.Header().Get("Access-Control-Max-Age") != "60" {
			t.Errorf("preflight: %d %v", w.Code, w.Header())
		}
	})
}

func TestR_FillsThePatternInOrder(t *testing.T) {
	tests := []struct {
		pattern string
		args    []any
		want    string
	}{
		{"/orders/batch", nil, "/orders/batch"},
		{"/products/{id}", []any{int64(7)}, "/products/7"},
		{"/products/{id}/reservations/{activity_id}", []any{int64(7), int64(3)}, "/products/7/reservations/3"},
		{"/users/{name}", []any{"a/b c"}, "/users/a%2Fb%20c"},
	}
	for _, tc := range tests {
		r := R(tc.pattern, tc.args...)
		if r.Path != tc.want || r.Pattern != tc.pattern {
			t.Errorf("R(%q, %v) = %+v, want path %q", tc.pattern, tc.args, r, tc.want)
		}
	}
}
