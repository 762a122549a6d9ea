package money

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzParse: an accepted price is within numeric(12,2) and formats to a
// string that parses back to the same cents; a refused one is ErrFormat.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"9.99", "0", "1e2", "9999999999.99", "10000000000", "-1", "-0", "0.001", "1E-2", "abc",
		".5", "5.", "1/2", "0x10", "+1", "0e999999", "1e-2", "99999999999.99e-1", "1 OR 1=1", "", "9.990000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("Parse(%q): %v, want ErrFormat", s, err)
			}
			return
		}
		if c < 0 || c > Max {
			t.Fatalf("Parse(%q) = %d, out of range", s, c)
		}
		if back, err := Parse(c.String()); err != nil || back != c {
			t.Fatalf("Parse(%q) = %d; its text %q parses to %d, %v", s, c, c.String(), back, err)
		}
	})
}

// FuzzUnmarshalJSON: only JSON numbers become prices, and a decoded price
// encodes to a JSON number that decodes to the same cents.
func FuzzUnmarshalJSON(f *testing.F) {
	for _, s := range []string{`9.99`, `"9.99"`, `null`, `true`, `false`, `[]`, `{}`, `1e400`, `-0`, `0.10`, `1e2`,
		`9999999999.99`, `"1 OR 1=1"`, `1.005`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Cents
		if err := json.Unmarshal(b, &c); err != nil {
			return
		}
		if !json.Valid(b) || b[0] == '"' {
			t.Fatalf("%q is not a JSON number, yet it decoded to %d", b, c)
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("%d does not encode: %v", c, err)
		}
		var d Cents
		if err := json.Unmarshal(out, &d); err != nil || d != c {
			t.Fatalf("%q decoded to %d, which encodes to %s and decodes to %d, %v", b, c, out, d, err)
		}
	})
}

// TestParse_HugeExponentCostsNothing: a price with a huge exponent, which
// big.Rat would spend tens of milliseconds on, is refused before any work.
func TestParse_HugeExponentCostsNothing(t *testing.T) {
	for _, s := range []string{"1e999999", "1E-1000000", "1000000e-999998", "0e+0001000"} {
		var err error
		if allocs := testing.AllocsPerRun(3, func() { _, err = Parse(s) }); allocs != 0 || !errors.Is(err, ErrFormat) {
			t.Errorf("Parse(%q): %v after %.0f allocations, want ErrFormat after none", s, err, allocs)
		}
	}
	for _, s := range []string{"1e2", "100e-2", "1e0002", "0.5E+1"} {
		if _, err := Parse(s); err != nil {
			t.Errorf("Parse(%q): %v", s, err)
		}
	}
}
