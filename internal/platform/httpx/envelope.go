// Package httpx holds the HTTP plumbing every service shares: the response
// envelope, the one mapping from error codes to statuses, strict JSON
// decoding, middleware and a server with timeouts and graceful shutdown.
package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/seckill/seckill/internal/platform/errs"
)

// Envelope is the body of every successful response but a list's, as the
// original seckill-sanic shaped it.
type Envelope struct {
	Code    int    `json:"code" validate:"required" enums:"0" example:"0"`
	Message string `json:"message" validate:"required" enums:"ok" example:"ok"`
	Data    any    `json:"data" validate:"required"`
}

// ListEnvelope is the body of a successful list response: one page of
// items and where it lies in the whole.
type ListEnvelope struct {
	Code       int        `json:"code" validate:"required" enums:"0" example:"0"`
	Message    string     `json:"message" validate:"required" enums:"ok" example:"ok"`
	Data       any        `json:"data" validate:"required"`
	Pagination Pagination `json:"pagination" validate:"required"`
}

// Pagination describes one page of a list.
type Pagination struct {
	Limit  int   `json:"limit" validate:"required" minimum:"1" maximum:"100" example:"20"`
	Offset int   `json:"offset" validate:"required" minimum:"0" example:"0"`
	Total  int64 `json:"total" validate:"required" minimum:"0" example:"42"`
}

// ErrorEnvelope is the body of every failed response. The documents show
// it as one type per status (see errors_doc.go), each with its own example.
type ErrorEnvelope struct {
	Code       int               `json:"code" validate:"required" minimum:"400" maximum:"599" example:"404"`
	Message    string            `json:"message" validate:"required" example:"product 7 not found"`
	Error      string            `json:"error" validate:"required" example:"not_found"`
	StatusCode int               `json:"status_code" validate:"required" minimum:"400" maximum:"599" example:"404"`
	Fields     map[string]string `json:"fields,omitempty"`
}

// StatusOf maps an error code to its HTTP status. It is the only place in the
// code base where that mapping lives.
func StatusOf(code errs.Code) int {
	switch code {
	case errs.Invalid:
		return http.StatusBadRequest
	case errs.Unauthenticated:
		return http.StatusUnauthorized
	case errs.Forbidden:
		return http.StatusForbidden
	case errs.UnsupportedType:
		return http.StatusUnsupportedMediaType
	case errs.Abandoned:
		return StatusClientClosedRequest
	case errs.NotFound:
		return http.StatusNotFound
	case errs.Conflict:
		return http.StatusConflict
	case errs.TooLarge:
		return http.StatusRequestEntityTooLarge
	case errs.TooSlow:
		return http.StatusRequestTimeout
	case errs.TooManyRequests:
		return http.StatusTooManyRequests
	case errs.Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// CodeOfStatus is StatusOf's inverse, used by clients that turn a peer's
// error response back into an error value.
func CodeOfStatus(status int) errs.Code {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return errs.Invalid
	case http.StatusUnauthorized:
		return errs.Unauthenticated
	case http.StatusForbidden:
		return errs.Forbidden
	case http.StatusUnsupportedMediaType:
		return errs.UnsupportedType
	case http.StatusNotFound:
		return errs.NotFound
	case http.StatusConflict:
		return errs.Conflict
	case http.StatusRequestEntityTooLarge:
		return errs.TooLarge
	case http.StatusRequestTimeout:
		return errs.TooSlow
	case http.StatusTooManyRequests:
		return errs.TooManyRequests
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return errs.Unavailable
	default:
		return errs.Internal
	}
}

// OK writes data in the success envelope with status 200.
func OK(w http.ResponseWriter, data any) { Write(w, http.StatusOK, data) }

// Write writes data in the success envelope with the given status.
func Write(w http.ResponseWriter, status int, data any) {
	writeJSON(w, status, Envelope{Code: 0, Message: "ok", Data: data})
}

// List writes one page of a list in the success envelope.
func List(w http.ResponseWriter, data any, p Pagination) {
	writeJSON(w, http.StatusOK, ListEnvelope{Code: 0, Message: "ok", Data: data, Pagination: p})
}

// StatusClientClosedRequest is the status recorded for a request whose
// client went away before it was answered (nginx's 499): not a server
// error, and nobody reads the answer.
const StatusClientClosedRequest = 499

// Error writes err in the error envelope with the status its code maps to.
// Internal and unavailable errors are logged with their cause, which the
// client never sees.
//
// A request whose client has gone (its context cancelled, not timed out)
// is recorded as abandoned, whatever failed because of it: a query or a
// wait cut short by the client is not a server error.
func Error(w http.ResponseWriter, r *http.Request, err error) {
	code := errs.CodeOf(err)
	// A body read that timed out cancels the request's context too, but
	// the client is there, and is told 408.
	if code != errs.Abandoned && code != errs.TooSlow && errors.Is(r.Context().Err(), context.Canceled) {
		code, err = errs.Abandoned, errs.Wrap(errs.Abandoned, err, "the client closed the request")
	}
	status := StatusOf(code)
	switch {
	case code == errs.Abandoned:
		Logger(r.Context()).DebugContext(r.Context(), "request abandoned by the client", "method", r.Method, "path", r.URL.Path,
			"request_id", RequestIDFrom(r.Context()), "err", err)
	case status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "":
		// RFC 6750: a 401 names the scheme the caller should use.
		w.Header().Set("WWW-Authenticate", `Bearer realm="seckill"`)
	case status == http.StatusRequestTimeout:
		// The rest of the body may still come; it must not be read as a
		// request.
		w.Header()["Connection"] = []string{"close"}
	case status >= 500:
		Logger(r.Context()).ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path,
			"request_id", RequestIDFrom(r.Context()), "err", err)
	}
	env := ErrorEnvelope{Code: status, Message: errs.MessageOf(err), Error: string(code), StatusCode: status}
	env.Fields = errs.FieldsOf(err)
	writeJSON(w, status, env)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only a programming error (an unencodable type) gets here; the
		// handler's tests see the 500.
		status = http.StatusInternalServerError
		b = []byte(`{"code":500,"message":"internal error","error":"internal","status_code":500}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
