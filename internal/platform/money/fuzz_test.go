package money

import (
	"encoding/json"
	"testing"
)

// FuzzParse: an accepted price is within numeric(12,2) and formats to a
// string that parses back to the same cents.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"9.99", "0", "1e2", "9999999999.99", "10000000000", "-1", "0.001", "1E-2", "abc", ".5", "5."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
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

// FuzzUnmarshalJSON: only JSON numbers become prices.
func FuzzUnmarshalJSON(f *testing.F) {
	for _, s := range []string{`9.99`, `"9.99"`, `null`, `true`, `[]`, `1e400`, `-0`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Cents
		if err := json.Unmarshal(b, &c); err != nil {
			return
		}
		out, _ := json.Marshal(c)
		var d Cents
		if err := json.Unmarshal(out, &d); err != nil || d != c {
			t.Fatalf("%q decoded to %d, which re-decodes to %d, %v", b, c, d, err)
		}
	})
}
