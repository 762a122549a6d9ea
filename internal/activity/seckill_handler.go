package activity

import (
	"bytes"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/seckill/seckill/internal/platform/auth"
	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/platform/httpx"
	"github.com/seckill/seckill/internal/platform/ratelimit"
	"github.com/seckill/seckill/internal/seckill"
)

// The seckill endpoint is the hot path of a flash sale and is written for
// speed on purpose: the body is parsed by hand when it has the usual shape
// (falling back to the strict decoder for anything else, so errors read the
// same as everywhere), and the answer is written from a pooled buffer
// without reflection.

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// handleSeckill handles POST /activities/{id}/seckill.
//
//	@Summary		Try to buy the activity's item
//	@Description	Answers whether the user got the item. A win is answered only after it is committed. A user's repeat request answers already_won with the same order_id; requests after the stock is gone answer sold_out from memory.
//	@ID				seckill
//	@Tags			seckill
//	@Accept			json
//	@Produce		json
//	@Param			id		path		int				true	"activity id"	minimum(1)	format(int64)	example(1)
//	@Param			request	body		SeckillRequest	true	"the buying user"
//	@Success		200		{object}	httpx.Envelope{data=SeckillResult}
//	@Failure		400		{object}	httpx.BadRequestError		"invalid activity or user id"
//	@Failure		404		{object}	httpx.NotFoundError			"unknown activity"
//	@Failure		413		{object}	httpx.TooLargeError			"body over 1 MiB"
//	@Failure		429		{object}	httpx.TooManyRequestsError	"rate limited"
//	@Header			429		{integer}	Retry-After					"seconds to wait before trying again"
//	@Failure		500		{object}	httpx.InternalError
//	@Failure		503		{object}	httpx.UnavailableError	"database unavailable or shutting down; the outcome is not known yet, retry or ask GET /activities/{id}/seckill/{user_id}"
//	@Security		Bearer
//	@Failure		401	{object}	httpx.ErrorEnvelope	"with USER_JWT_SECRET set: no valid buyer token; the answer carries WWW-Authenticate: Bearer"
//	@Header			401	{string}	WWW-Authenticate	"Bearer realm=seckill"
//	@Failure		403	{object}	httpx.ErrorEnvelope	"another user's token, or a credential that is not a buyer's"
//	@Failure		415	{object}	httpx.ErrorEnvelope	"a body declared as anything but application/json"
//	@Router			/activities/{id}/seckill [post]
func handleSeckill(e *seckill.Engine, lim limits, observe func(seckill.Status), a *auth.Authenticator) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if lim.ip != nil {
			if ok, wait := lim.ip.Allow(clientIP(r)); !ok {
				tooMany(w, r, wait, "too many requests from this address")
				return
			}
		}
		id, err := httpx.PathID(r, "id")
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		if err := httpx.CheckContentType(r); err != nil {
			httpx.Error(w, r, err)
			return
		}
		bp := bufPool.Get().(*[]byte)
		defer bufPool.Put(bp)
		user, err := readUserID(w, r, bp)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		if err := a.Permit(r.Context(), user); err != nil {
			httpx.Error(w, r, err)
			return
		}
		if ok, wait := lim.user.Allow(buyerKey{activity: id, user: user}); !ok {
			tooMany(w, r, wait, "too many requests for this user")
			return
		}
		res, err := e.Buy(r.Context(), id, user)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		if observe != nil {
			observe(res.Status)
		}
		b := appendResult((*bp)[:0], id, user, res)
		*bp = b
		h := w.Header()
		h["Content-Type"] = jsonContentType
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b)
	}
}

var jsonContentType = []string{"application/json"}

// limits are the seckill endpoint's abuse limits; a nil limiter is off.
type limits struct {
	ip   *ratelimit.Keyed[string]
	user *ratelimit.Keyed[buyerKey]
}

// buyerKey is what the per-user limit counts by: a user's requests in one
// sale must not spend its allowance in another.
type buyerKey struct{ activity, user int64 }

// clientIP is the connection's address. X-Forwarded-For is not trusted:
// anyone can send it, and a limit a client can pick its own key for is none.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func tooMany(w http.ResponseWriter, r *http.Request, wait time.Duration, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(int(max(1, math.Ceil(wait.Seconds())))))
	httpx.Error(w, r, errs.E(errs.TooManyRequests, "%s; retry later", msg))
}

// readUserID reads the body into *bp and returns its positive user_id.
func readUserID(w http.ResponseWriter, r *http.Request, bp *[]byte) (int64, error) {
	buf := bytes.NewBuffer((*bp)[:0])
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, httpx.MaxBodyBytes))
	*bp = buf.Bytes()
	if err != nil {
		var req SeckillRequest
		return 0, httpx.DecodeJSON(io.MultiReader(bytes.NewReader(*bp), errReader{err}), &req)
	}
	if u, ok := parseUserID(*bp); ok {
		return u, nil
	}
	var req SeckillRequest
	if err := httpx.DecodeJSON(bytes.NewReader(*bp), &req); err != nil {
		return 0, err
	}
	if req.UserID <= 0 {
		return 0, errs.InvalidFields(errs.FieldErrors{"user_id": "is required and must be a positive integer"})
	}
	return req.UserID, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// parseUserID recognises exactly {"user_id":<positive integer>} with
// optional white space; anything else returns false and is left to the
// strict decoder.
func parseUserID(b []byte) (int64, bool) {
	i := skipSpace(b, 0)
	const key = `{"user_id"`
	if !bytes.HasPrefix(b[i:], []byte(key)) {
		return 0, false
	}
	i = skipSpace(b, i+len(key))
	if i >= len(b) || b[i] != ':' {
		return 0, false
	}
	i = skipSpace(b, i+1)
	j := i
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	if j == i || j-i > 19 || b[i] == '0' {
		return 0, false
	}
	u, err := strconv.ParseInt(string(b[i:j]), 10, 64)
	if err != nil {
		return 0, false
	}
	k := skipSpace(b, j)
	if k >= len(b) || b[k] != '}' || skipSpace(b, k+1) != len(b) {
		return 0, false
	}
	return u, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func appendResult(b []byte, id, user int64, res seckill.Outcome) []byte {
	b = append(b, `{"code":0,"message":"ok","data":{"activity_id":`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `,"user_id":`...)
	b = strconv.AppendInt(b, user, 10)
	b = append(b, `,"won":`...)
	b = strconv.AppendBool(b, res.Won())
	b = append(b, `,"status":"`...)
	b = append(b, res.Status...)
	b = append(b, '"')
	if res.Won() {
		b = append(b, `,"order_id":"`...)
		b = appendUUID(b, res.OrderID)
		b = append(b, '"')
	}
	return append(b, "}}\n"...)
}

// appendUUID appends the canonical text of id without allocating.
func appendUUID(b []byte, id [16]byte) []byte {
	const hex = "0123456789abcdef"
	for i, x := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[x>>4], hex[x&0xf])
	}
	return b
}
