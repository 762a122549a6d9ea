package devstack

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func TestProc_StartFailsAtOnceWhenTheProcessExits(t *testing.T) {
	p := &Proc{Name: "broken", Path: "/bin/sh", Args: []string{"-c", "echo cannot bind >&2; exit 3"},
		ReadyURL: "http://127.0.0.1:1/readyz"}
	start := time.Now()
	err := p.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "cannot bind") {
		t.Fatalf("Start = %v, want an error saying it exited, with its output", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Start took %s to notice the exit", took)
	}
	if !p.Exited() || p.Err() == nil {
		t.Errorf("Exited %v, Err %v: want exited with an error", p.Exited(), p.Err())
	}
}

func TestProc_TermAndRestart(t *testing.T) {
	p := &Proc{Name: "sleeper", Path: "/bin/sleep", Args: []string{"30"}}
	for run := range 2 {
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if p.Exited() || p.PID() == 0 {
			t.Fatalf("run %d: not running after Start", run)
		}
		// sleep dies of the signal: Term reports how it exited.
		if took, err := p.Term(10 * time.Second); err == nil || !strings.Contains(err.Error(), "terminated") || took > 5*time.Second {
			t.Errorf("run %d: Term = %s, %v; want the process terminated by the signal at once", run, took, err)
		}
		if !p.Exited() {
			t.Errorf("run %d: still running after Term", run)
		}
	}
}

func TestNew_RefusesATakenFixedPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	_, err = New(Config{Bin: t.TempDir(), Ports: map[string]int{"activity": port}})
	if err == nil || !strings.Contains(err.Error(), "taken") {
		t.Errorf("New with a taken port = %v, want an error", err)
	}
}
