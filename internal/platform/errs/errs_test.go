package errs

import (
	"errors"
	"strings"
	"testing"
)

func TestAnnotate_KeepsCodeAndCause(t *testing.T) {
	cause := errors.New("connection reset")
	get := func(id int64) (err error) {
		defer Annotate(&err, "Store.Get(%d)", id)
		return Wrap(Unavailable, cause, "database unavailable")
	}
	err := get(7)
	if got, want := err.Error(), "Store.Get(7): unavailable: database unavailable: connection reset"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := CodeOf(err), Unavailable; got != want {
		t.Errorf("code %v, want %v", got, want)
	}
	if got, want := MessageOf(err), "database unavailable"; got != want {
		t.Errorf("client message %q, want %q: the operation is for the log only", got, want)
	}
	if !errors.Is(err, cause) {
		t.Error("the cause is lost")
	}
	ok := func() (err error) {
		defer Annotate(&err, "Store.Get(%d)", 8)
		return nil
	}
	if err := ok(); err != nil {
		t.Errorf("Annotate made an error of nil: %v", err)
	}
}

func TestInvalidFields(t *testing.T) {
	err := InvalidFields(FieldErrors{"b": "bad", "a": "worse"})
	if got, want := CodeOf(err), Invalid; got != want {
		t.Errorf("code %v, want %v", got, want)
	}
	if got, want := MessageOf(err), "invalid request: a: worse; b: bad"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	var wrapped error = err
	Annotate(&wrapped, "Catalog.Create")
	if f := FieldsOf(wrapped); len(f) != 2 || f["a"] != "worse" {
		t.Errorf("FieldsOf = %v, want both fields", f)
	}
	if f := FieldsOf(E(Invalid, "no fields")); f != nil {
		t.Errorf("FieldsOf an error without fields = %v", f)
	}
	if !strings.HasPrefix(wrapped.Error(), "Catalog.Create: invalid: ") {
		t.Errorf("annotated: %q", wrapped.Error())
	}
}
