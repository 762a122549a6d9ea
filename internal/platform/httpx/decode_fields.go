package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/seckill/seckill/internal/platform/errs"
)

// fieldDecodeError handles a value a type's own decoder refused (a time,
// a UUID, a price): it finds which field of dst holds the value in raw, and
// says what that field expects rather than what the decoder said. It
// returns nil for every other failure.
func fieldDecodeError(err error, raw []byte, dst reflect.Type) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	if errors.As(err, &syn) || errors.As(err, &typ) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.HasPrefix(err.Error(), "json: unknown field ") {
		return nil
	}
	if path, t, ferr := locate(raw, dst, ""); path != "" {
		return fieldInvalid(path, expectation(t, ferr))
	}
	return nil
}

// fieldInvalid is the Invalid error for one bad field, with the fields map
// every validation error has.
func fieldInvalid(field, problem string) error {
	return errs.InvalidFields(errs.FieldErrors{field: problem})
}

var (
	timeType = reflect.TypeFor[time.Time]()
	uuidType = reflect.TypeFor[uuid.UUID]()
)

// expectation says, in the client's terms, what a field of type t holds.
func expectation(t reflect.Type, err error) string {
	var ve *errs.Error
	switch {
	case t == timeType:
		return "must be an RFC 3339 time such as 2030-01-02T15:04:05Z"
	case t == uuidType:
		return "must be a UUID such as 0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10"
	case errors.As(err, &ve):
		return ve.Message
	}
	return "has a value of the wrong form"
}

// locate decodes raw into t one field at a time to find the first field
// whose value fails to decode. It returns the field's path (orders[2].price),
// its type and the failure, or an empty path when nothing fails alone.
func locate(raw []byte, t reflect.Type, path string) (string, reflect.Type, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && t != timeType && !reflect.PointerTo(t).Implements(unmarshalerType):
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return "", nil, nil
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name := strings.Split(f.Tag.Get("json"), ",")[0]
			if name == "" {
				name = f.Name
			}
			if v, ok := obj[name]; ok {
				if p, ft, err := locate(v, f.Type, join(path, name)); p != "" {
					return p, ft, err
				}
			}
		}
		return "", nil, nil
	case t.Kind() == reflect.Slice && !reflect.PointerTo(t).Implements(unmarshalerType):
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return "", nil, nil
		}
		for i, v := range items {
			if p, ft, err := locate(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p, ft, err
			}
		}
		return "", nil, nil
	}
	if err := json.Unmarshal(raw, reflect.New(t).Interface()); err != nil {
		return path, t, err
	}
	return "", nil, nil
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
