// Package errs defines the application's error values. An error carries a
// code that says what kind of failure it is, independent of any transport;
// httpx maps codes to HTTP statuses in exactly one place.
package errs

import (
	"context"
	"errors"
	"fmt"
)

// Code classifies an error.
type Code string

// The codes every service uses.
const (
	Invalid         Code = "invalid"           // the input is malformed or breaks a rule
	Unauthenticated Code = "unauthorized"      // no credential, or one that is not valid
	Forbidden       Code = "forbidden"         // a valid credential that may not do this
	UnsupportedType Code = "unsupported_media" // a body in a format the endpoint does not read
	NotFound        Code = "not_found"         // the thing asked for does not exist
	Conflict        Code = "conflict"          // the request contradicts the current state
	TooLarge        Code = "too_large"         // the request body is over its limit
	TooSlow         Code = "request_timeout"   // the request body did not arrive in time
	TooManyRequests Code = "too_many_requests" // a rate limit refused the request
	Unavailable     Code = "unavailable"       // a dependency (database, peer service) is down
	Internal        Code = "internal"          // a bug or an unexpected failure
	// Abandoned means the client went away before its request was read or
	// answered: nobody is waiting for the answer, and nothing is wrong
	// with the server.
	Abandoned Code = "client_closed_request"
)

// Error is an application error with a code and a message that is safe to
// show to a client. Err, if set, is the underlying cause; it is logged but
// never shown.
type Error struct {
	Code    Code
	Message string
	Err     error
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// E builds an Error with a formatted message.
func E(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap builds an Error with a message around an underlying cause.
func Wrap(code Code, err error, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// CodeOf returns the code of the first *Error in err's chain, Internal when
// there is none, and "" for a nil error.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	// A request that ran out of time or whose client left was not served;
	// nothing in it is a bug.
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return Unavailable
	}
	return Internal
}

// MessageOf returns the client-safe message of err: the message of the first
// *Error in its chain, or a generic text for anything else so that internal
// details never leak.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	if CodeOf(err) == Unavailable {
		return "the request was cancelled or timed out before it could be answered"
	}
	return "internal error"
}

// Is reports whether err carries the given code.
func Is(err error, code Code) bool { return CodeOf(err) == code }

// Annotate prefixes *errp, when it is not nil, with the operation that
// failed and its arguments, keeping its code and cause for CodeOf and
// errors.Is. It is meant to be deferred at the top of a function with a
// named error result:
//
//	func (s *Store) Get(ctx context.Context, id int64) (_ Activity, err error) {
//		defer errs.Annotate(&err, "Store.Get(%d)", id)
//
// so that a log line says where an error came from, not only what it was.
func Annotate(errp *error, format string, args ...any) {
	if *errp != nil {
		*errp = fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), *errp)
	}
}
