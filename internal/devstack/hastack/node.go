package hastack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func (n *Node) api(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", n.APIPort, path) }

// PostmasterPID reads the node's postmaster.pid; 0 when it has none.
func (n *Node) PostmasterPID() int {
	b, err := os.ReadFile(filepath.Join(n.DataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid
}

// KillPostgres SIGKILLs the node's postmaster, as a crash of PostgreSQL
// would; Patroni lives on and notices. It returns the pid killed.
func (n *Node) KillPostgres() (int, error) {
	pid := n.killPostmaster(syscall.SIGKILL)
	if pid == 0 {
		return 0, fmt.Errorf("%s has no running postmaster", n.Name)
	}
	return pid, nil
}

// Kill SIGKILLs the whole node, Patroni and PostgreSQL, as the loss of its
// machine would.
func (n *Node) Kill() {
	// Patroni starts the postmaster in a session of its own: killing
	// Patroni's process group does not reach it.
	n.killPostmaster(syscall.SIGKILL)
	n.Patroni.KillGroup()
}

func (n *Node) killPostmaster(sig syscall.Signal) int {
	pid := n.PostmasterPID()
	if pid == 0 || syscall.Kill(pid, sig) != nil {
		return 0
	}
	return pid
}

// FreezeReplication stops (SIGSTOP) the leader's WAL senders, as a
// partition between the leader and its standbys would: nothing the leader
// commits from now on reaches a standby, and with synchronous replication
// every commit waits for a confirmation that never comes. The returned
// function kills them, for a leader that is then lost with everything it
// did not send (call it after the leader's PostgreSQL was killed).
func (c *Cluster) FreezeReplication(leader *Node) (lose func(), err error) {
	var pids []int
	// A replica Patroni reports running may still be connecting.
	err = poll(context.Background(), 30*time.Second, func() bool {
		pids = childrenNamed(leader.PostmasterPID(), "walsender")
		return len(pids) == len(c.Nodes)-1
	})
	if err != nil {
		return nil, fmt.Errorf("%s has %d WAL senders, want %d: %w", leader.Name, len(pids), len(c.Nodes)-1, err)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			return nil, err
		}
	}
	return func() {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}, nil
}

// childrenNamed returns the children of parent whose process title holds
// name.
func childrenNamed(parent int, name string) []int {
	if parent == 0 {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the parenthesised command: state, ppid, …
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(parent) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(string(cmdline), name) {
			out = append(out, pid)
		}
	}
	return out
}
