package config

import (
	"strings"
	"testing"
	"time"
)

func TestEnv(t *testing.T) {
	vars := map[string]string{"S": " x ", "I": "7", "B": "yes", "D": "2s", "U": "http://h:1/", "L": "a, b,,c", "O": "WARN"}
	e := New(func(k string) string { return vars[k] })
	if got := e.String("S", "d"); got != "x" {
		t.Errorf("String = %q", got)
	}
	if got := e.String("MISSING", "d"); got != "d" {
		t.Errorf("default = %q", got)
	}
	if got := e.Int("I", 0); got != 7 {
		t.Errorf("Int = %d", got)
	}
	if got := e.Bool("B", false); !got {
		t.Error("Bool = false")
	}
	if got := e.Duration("D", 0); got != 2*time.Second {
		t.Errorf("Duration = %v", got)
	}
	if got := e.URL("U", ""); got != "http://h:1" {
		t.Errorf("URL = %q", got)
	}
	if got := e.OneOf("O", "info", "info", "warn"); got != "warn" {
		t.Errorf("OneOf = %q", got)
	}
	if err := e.Err(); err != nil {
		t.Errorf("Err = %v", err)
	}
}

func TestEnv_ReportsEveryBadValue(t *testing.T) {
	vars := map[string]string{"I": "seven", "B": "maybe", "D": "-1s", "U": "not a url", "O": "loud"}
	e := New(func(k string) string { return vars[k] })
	e.Int("I", 1)
	e.Bool("B", false)
	e.Duration("D", 0)
	e.URL("U", "")
	e.OneOf("O", "info", "info")
	err := e.Err()
	for _, k := range []string{"I=", "B=", "D=", "U=", "O="} {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("error %v does not name %s", err, k)
		}
	}
}

func TestRedact(t *testing.T) {
	if got := Redact("postgres://u:secret@h/db"); strings.Contains(got, "secret") {
		t.Errorf("Redact kept the password: %s", got)
	}
}
