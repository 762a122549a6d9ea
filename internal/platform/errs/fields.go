package errs

import (
	"errors"
	"sort"
	"strings"
)

// FieldErrors is what input validation returns: one message per bad field.
// Domain models build it in their Valid methods without knowing of HTTP.
type FieldErrors map[string]string

// fieldError carries the field problems of an Invalid error.
type fieldError struct {
	fields FieldErrors
}

func (e *fieldError) Error() string { return "invalid fields" }

// InvalidFields turns field problems into an Invalid error whose message
// names every field, in a stable order, and which carries them for FieldsOf.
func InvalidFields(problems FieldErrors) error {
	keys := make([]string, 0, len(problems))
	for k := range problems {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + problems[k]
	}
	return &Error{Code: Invalid, Message: "invalid request: " + strings.Join(parts, "; "),
		Err: &fieldError{fields: problems}}
}

// FieldsOf returns the field problems err carries, or nil.
func FieldsOf(err error) FieldErrors {
	var fe *fieldError
	if errors.As(err, &fe) {
		return fe.fields
	}
	return nil
}
