package httpx

import (
	"math"
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/seckill/seckill/internal/platform/errs"
)

// PathID parses the named chi URL parameter as a positive int64 id.
func PathID(r *http.Request, name string) (int64, error) {
	return ParseID(name, URLParam(r, name))
}

// ParseID parses s as a positive int64 id named name, written in decimal
// digits only: no sign, no leading zeros, nothing around it, so that one
// id has one spelling.
func ParseID(name, s string) (int64, error) {
	id, ok := parseDigits(s)
	if !ok || id <= 0 {
		return 0, errs.E(errs.Invalid, "%s must be a positive integer, got %q", name, truncate(s, 40))
	}
	return id, nil
}

// parseDigits parses a non-negative decimal number with no sign and no
// leading zeros ("0" itself is fine).
func parseDigits(s string) (int64, bool) {
	if s == "" || len(s) > 19 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// Query parses the request's query string, refusing one that is malformed
// or names a parameter twice: "?user_id=1&user_id=2" means nothing one
// reader cannot read differently from another.
func Query(r *http.Request) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errs.E(errs.Invalid, "malformed query string")
	}
	for k, vs := range q {
		if len(vs) > 1 {
			return nil, errs.E(errs.Invalid, "query parameter %q is given %d times", truncate(k, 40), len(vs))
		}
	}
	return q, nil
}

// Page reads limit and offset from the query string. Limit defaults to 20
// and may be at most 100; offset defaults to 0.
func Page(r *http.Request) (limit, offset int, err error) {
	q, err := Query(r)
	if err != nil {
		return 0, 0, err
	}
	limit, offset = 20, 0
	p := errs.FieldErrors{}
	if s := q.Get("limit"); s != "" {
		n, ok := parseDigits(s)
		if !ok || n < 1 || n > 100 {
			p["limit"] = "must be an integer from 1 to 100"
		}
		limit = int(n)
	}
	if s := q.Get("offset"); s != "" {
		n, ok := parseDigits(s)
		if !ok || n > math.MaxInt32 {
			p["offset"] = "must be a non-negative integer"
		}
		offset = int(n)
	}
	if len(p) > 0 {
		return 0, 0, errs.InvalidFields(p)
	}
	return limit, offset, nil
}

// URLParam returns the named chi URL parameter.
func URLParam(r *http.Request, name string) string { return chi.URLParam(r, name) }
