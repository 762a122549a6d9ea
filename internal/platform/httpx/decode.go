package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/seckill/seckill/internal/platform/errs"
)

// MaxBodyBytes is the largest request body any endpoint accepts.
const MaxBodyBytes = 1 << 20

// Validator is implemented by request types that check their own fields.
// Valid returns one message per bad field, or nothing when all is well.
type Validator interface {
	Valid() errs.FieldErrors
}

// Decode reads one JSON value from the request body into a new T. It
// refuses a Content-Type other than JSON (415), bodies over MaxBodyBytes
// (413), and with 400: invalid UTF-8, duplicate keys, unknown fields,
// trailing data and wrong types; then it runs T's Valid method when it has
// one. A body the client stopped sending is an Abandoned error; one that
// did not arrive in time is a TooSlow error (408).
func Decode[T any](w http.ResponseWriter, r *http.Request) (T, error) {
	var v T
	if err := CheckContentType(r); err != nil {
		return v, err
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if err := DecodeJSON(r.Body, &v); err != nil {
		return v, err
	}
	if val, ok := any(&v).(Validator); ok {
		if p := val.Valid(); len(p) > 0 {
			return v, errs.InvalidFields(p)
		}
	} else if val, ok := any(v).(Validator); ok {
		if p := val.Valid(); len(p) > 0 {
			return v, errs.InvalidFields(p)
		}
	}
	return v, nil
}

// CheckContentType accepts a request whose body is declared JSON, or not
// declared at all; any other type is an UnsupportedType error. A browser
// sends a form or text/plain across origins without asking first, and such
// a body must not be read as an API call.
func CheckContentType(r *http.Request) error {
	cts := r.Header.Values("Content-Type")
	switch {
	case len(cts) == 0:
		return nil
	case len(cts) == 1 && (cts[0] == "application/json" || cts[0] == "application/json; charset=utf-8"):
		return nil // the usual spellings, without parsing on the hot path
	case len(cts) == 1:
		mt, params, err := mime.ParseMediaType(cts[0])
		if cs, ok := params["charset"]; err == nil && mt == "application/json" && (!ok || strings.EqualFold(cs, "utf-8")) {
			return nil
		}
	}
	return errs.E(errs.UnsupportedType, "the body must be JSON: send Content-Type: application/json")
}

// DecodeJSON strictly decodes exactly one JSON value from body into dst:
// valid UTF-8, no key twice in an object, no unknown field, nothing after
// the value.
func DecodeJSON(body io.Reader, dst any) error {
	b, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return decodeError(err)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// ReadTimeout passed, or the connection limiter cut a body
			// trickler at the cap: the client is still there to read why.
			return errs.Wrap(errs.TooSlow, err, "the request body did not arrive in time")
		}
		// The client stopped sending (it closed the connection or timed
		// out): nobody is there to read an answer.
		return errs.Wrap(errs.Abandoned, err, "the request body was not received")
	}
	return decodeBytes(b, dst)
}

func decodeBytes(b []byte, dst any) error {
	if !utf8.Valid(b) {
		return errs.E(errs.Invalid, "request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		if e := fieldDecodeError(err, b, reflect.TypeOf(dst)); e != nil {
			return e
		}
		return decodeError(err)
	}
	// A second value, or anything but white space, after the first is an error.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errs.E(errs.Invalid, "request body must hold a single JSON value")
	}
	// The value is well-formed; now make sure no reader of it can see
	// another one: with a key twice, the decoder keeps the last and a
	// proxy may read the first.
	return UniqueKeys(b)
}

// UniqueKeys returns an Invalid error when an object in the JSON value b
// holds a key twice, comparing keys as encoding/json matches them to
// fields: without regard to case. Two readers of such a value may each
// take a different one of the two.
func UniqueKeys(b []byte) error {
	return uniqueKeys(json.NewDecoder(bytes.NewReader(b)), 0)
}

// maxDepth bounds the nesting uniqueKeys follows; the API's bodies are
// three levels deep at most.
const maxDepth = 32

// uniqueKeys reads one value from dec and fails when an object in it holds
// a key twice. Keys are compared as encoding/json matches them to fields:
// without regard to case.
func uniqueKeys(dec *json.Decoder, depth int) error {
	if depth > maxDepth {
		return errs.E(errs.Invalid, "request body is nested more than %d levels deep", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return decodeError(err)
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return decodeError(err)
			}
			key, _ := k.(string)
			folded := strings.ToLower(strings.ToUpper(key))
			if seen[folded] {
				return errs.E(errs.Invalid, "key %q appears twice in an object", truncate(key, 40))
			}
			seen[folded] = true
			if err := uniqueKeys(dec, depth+1); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	case json.Delim('['):
		for dec.More() {
			if err := uniqueKeys(dec, depth+1); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	}
	if err != nil {
		return decodeError(err)
	}
	return nil
}

func decodeError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return errs.E(errs.TooLarge, "request body is larger than %d bytes", mbe.Limit)
	case errors.Is(err, io.EOF):
		return errs.E(errs.Invalid, "request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errs.E(errs.Invalid, "request body is not complete JSON")
	case errors.As(err, &syn):
		return errs.E(errs.Invalid, "malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			switch typ.Type {
			case timeType, uuidType:
				return fieldInvalid(typ.Field, expectation(typ.Type, err))
			}
			return fieldInvalid(typ.Field, "must be "+jsonKind(typ.Type.String()))
		}
		return errs.E(errs.Invalid, "request body must be %s", jsonKind(typ.Type.String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return fieldInvalid(name, "is not a known field")
	}
	var ve *errs.Error
	if errors.As(err, &ve) {
		return ve
	}
	return errs.Wrap(errs.Invalid, err, "request body is not valid")
}

func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasPrefix(goType, "float"), goType == "json.Number":
		return "a number"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "time.Time"):
		return "an RFC 3339 time"
	}
	return "an object"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// WithRouteContext makes sure r carries a chi routing context that outlives
// next, so middleware can read the matched route pattern after next
// returns. Inside a chi router's middleware stack one already exists; when
// the middleware wraps a router from outside, the router would otherwise use
// a pooled context and reset it before anyone could look.
func WithRouteContext(r *http.Request, next http.Handler) (*http.Request, *chi.Context) {
	if rctx := chi.RouteContext(r.Context()); rctx != nil {
		return r, rctx
	}
	rctx := chi.NewRouteContext()
	if routes, ok := next.(chi.Routes); ok {
		// The router sets this only on contexts it creates; chi's own
		// middleware (GetHead, for one) relies on it.
		rctx.Routes = routes
	}
	return r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, rctx)), rctx
}
