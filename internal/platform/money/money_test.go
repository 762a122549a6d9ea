package money

import (
	"encoding/json"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Cents
		ok   bool
	}{
		{"9.99", 999, true}, {"10", 1000, true}, {"0", 0, true}, {"0.1", 10, true}, {"1e2", 10000, true},
		{"9999999999.99", Max, true}, {"9.999", 0, false}, {"-1", 0, false}, {"10000000000", 0, false},
		{"abc", 0, false}, {"", 0, false}, {"0.005", 0, false},
	} {
		got, err := Parse(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Parse(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	var v struct{ P Cents }
	if err := json.Unmarshal([]byte(`{"P":19.9}`), &v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	if got, want := string(b), `{"P":19.90}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if err := json.Unmarshal([]byte(`{"P":"19.9"}`), &v); err == nil {
		t.Error("a string price was accepted")
	}
}
