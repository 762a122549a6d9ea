// Package money holds exact prices. A price travels as a JSON number with at
// most two decimals (9.99), lives in memory as whole cents, and is stored as
// numeric(12,2): it is never a float.
package money

import (
	"math/big"
	"strconv"
	"strings"

	"github.com/seckill/seckill/internal/platform/errs"
)

// Max is the largest amount numeric(12,2) holds, in cents.
const Max Cents = 999_999_999_999

// Cents is an amount of money in hundredths of the currency unit.
type Cents int64

// ErrFormat is returned for a number that is not a valid price.
// Its message is written for the client, who sees it under the field's name.
var ErrFormat = errs.E(errs.Invalid, "must be a number with at most two decimals, from 0 to 9999999999.99")

// Parse reads a decimal number such as "9.99", "10" or "1e2" exactly.
func Parse(s string) (Cents, error) {
	// Refuse what cannot be a price before big.Rat works on it: it spends
	// tens of milliseconds on an exponent such as 1e999999, which a client
	// could send in every request.
	if len(s) > 64 || hugeExponent(s) {
		return 0, ErrFormat
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, ErrFormat
	}
	r.Mul(r, big.NewRat(100, 1))
	if !r.IsInt() || r.Sign() < 0 || r.Num().Cmp(big.NewInt(int64(Max))) > 0 {
		return 0, ErrFormat
	}
	return Cents(r.Num().Int64()), nil
}

// hugeExponent reports whether s has an exponent of four digits or more.
// Within 64 characters no such number is a price but zero.
func hugeExponent(s string) bool {
	i := strings.IndexAny(s, "eE")
	if i < 0 {
		return false
	}
	return len(strings.TrimLeft(strings.TrimLeft(s[i+1:], "+-"), "0")) > 3
}

// String formats c as a decimal with two places, e.g. "9.90".
func (c Cents) String() string {
	sign := ""
	v := int64(c)
	if v < 0 {
		sign, v = "-", -v
	}
	frac := v % 100
	s := sign + strconv.FormatInt(v/100, 10) + "."
	if frac < 10 {
		s += "0"
	}
	return s + strconv.FormatInt(frac, 10)
}

// MarshalJSON writes c as a JSON number with two decimals.
func (c Cents) MarshalJSON() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalJSON reads a JSON number; strings and other types are refused.
func (c *Cents) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] == '"' || b[0] == 'n' || b[0] == 't' || b[0] == 'f' || b[0] == '{' || b[0] == '[' {
		return ErrFormat
	}
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}
