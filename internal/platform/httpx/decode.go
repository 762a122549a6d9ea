package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

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

// Decode reads one JSON value from the request body into a new T. It rejects
// bodies over MaxBodyBytes, unknown fields, trailing data and wrong types,
// and runs T's Valid method when it has one. Every failure is an Invalid or
// TooLarge error whose message says what was wrong.
func Decode[T any](w http.ResponseWriter, r *http.Request) (T, error) {
	var v T
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

// DecodeJSON strictly decodes exactly one JSON value from body into dst.
func DecodeJSON(body io.Reader, dst any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	// A second value, or anything but white space, after the first is an error.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return decodeError(err)
		}
		return errs.E(errs.Invalid, "request body must hold a single JSON value")
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
			return errs.E(errs.Invalid, "field %q must be %s", typ.Field, jsonKind(typ.Type.String()))
		}
		return errs.E(errs.Invalid, "request body must be %s", jsonKind(typ.Type.String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errs.E(errs.Invalid, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	var ve *errs.Error
	if errors.As(err, &ve) {
		return ve
	}
	return errs.Wrap(errs.Invalid, err, "malformed JSON: "+err.Error())
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

// PathID parses the named chi URL parameter as a positive int64 id.
func PathID(r *http.Request, name string) (int64, error) {
	return ParseID(name, URLParam(r, name))
}

// ParseID parses s as a positive int64 id named name.
func ParseID(name, s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, errs.E(errs.Invalid, "%s must be a positive integer, got %q", name, truncate(s, 40))
	}
	return id, nil
}

// Page reads limit and offset from the query string. Limit defaults to 20
// and may be at most 100; offset defaults to 0.
func Page(r *http.Request) (limit, offset int, err error) {
	q := r.URL.Query()
	limit, offset = 20, 0
	p := errs.FieldErrors{}
	if s := q.Get("limit"); s != "" {
		n, e := strconv.Atoi(s)
		if e != nil || n < 1 || n > 100 {
			p["limit"] = "must be an integer from 1 to 100"
		}
		limit = n
	}
	if s := q.Get("offset"); s != "" {
		n, e := strconv.Atoi(s)
		if e != nil || n < 0 {
			p["offset"] = "must be a non-negative integer"
		}
		offset = n
	}
	if len(p) > 0 {
		return 0, 0, errs.InvalidFields(p)
	}
	return limit, offset, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// URLParam returns the named chi URL parameter.
func URLParam(r *http.Request, name string) string { return chi.URLParam(r, name) }

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
