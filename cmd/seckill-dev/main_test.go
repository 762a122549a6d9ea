package main

import (
	"bytes"
	"sync"
	"testing"
)

func TestPrefixWriter_PrefixesEveryWholeLine(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	w := &prefixWriter{mu: &mu, out: &out, prefix: "[svc] "}
	for _, chunk := range []string{"one\ntw", "o\nthree\nfou", "", "r", "\n"} {
		if n, err := w.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", chunk, n, err)
		}
	}
	if got, want := out.String(), "[svc] one\n[svc] two\n[svc] three\n[svc] four\n"; got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
	if _, err := w.Write([]byte("unfinished")); err != nil || out.Len() != len("[svc] one\n[svc] two\n[svc] three\n[svc] four\n") {
		t.Errorf("an unfinished line was written: %q", out.String())
	}
}

func TestParsePorts(t *testing.T) {
	got, err := parsePorts("1,2, 3")
	if err != nil || got["product"] != 1 || got["activity"] != 2 || got["order"] != 3 {
		t.Errorf("parsePorts = %v, %v", got, err)
	}
	if _, err := parsePorts("1,2"); err == nil {
		t.Error("two ports accepted")
	}
}
