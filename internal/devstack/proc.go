// Package devstack runs the seckill stack on this machine without Docker:
// PostgreSQL, Jaeger and the three services as child processes, each waited
// for until it answers. `make run` and `make demo` (cmd/seckill-dev), `make
// bench` (cmd/seckill-bench-suite) and the reliability tests all start the
// stack through it.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Proc is a program run as a child process that can be started, stopped,
// killed and started again with the same arguments, so a restarted service
// comes back at the same address. The last of its output is kept to explain
// a failure.
type Proc struct {
	Name string
	// URL is the base URL of a service ("" for other programs).
	URL  string
	Path string
	Args []string
	// Env is added to this process's environment.
	Env []string
	// ReadyURL is polled after a start until it answers 200.
	ReadyURL string
	// Log, when not nil, receives everything the process writes.
	Log io.Writer
	// Dir is the working directory; "" keeps this process's.
	Dir string
	// User, when not nil, is whom the process runs as (PostgreSQL and
	// Patroni refuse root).
	User *syscall.Credential

	out tail

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the current run has exited
	err  error         // the current run's exit, once done is closed
}

// readyWithin bounds how long a start may take, migrations included.
const readyWithin = 60 * time.Second

// Start starts the process and waits until ReadyURL answers 200. It fails
// at once when the process exits first, with the process's last lines.
// It may be called from any goroutine.
func (p *Proc) Start(ctx context.Context) error {
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	var w io.Writer = &p.out
	if p.Log != nil {
		w = io.MultiWriter(&p.out, p.Log)
	}
	cmd.Stdout, cmd.Stderr = w, w
	// Its own process group: a Ctrl-C meant for the launcher reaches the
	// children only through the launcher's orderly stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: p.User}
	cmd.Dir = p.Dir
	// A child that daemonizes one of its own (Patroni its postmaster)
	// leaves it holding the output pipe: once the child exits, its
	// output is read for a moment more, not until that one exits too.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	if p.ReadyURL == "" {
		return nil
	}
	if err := waitReady(ctx, p.ReadyURL, readyWithin, done); err != nil {
		return fmt.Errorf("%s did not become ready: %w\n%s", p.Name, err, p.out.String())
	}
	return nil
}

// waitReady polls url until it answers 200, within passes, ctx ends or
// exited is closed.
func waitReady(ctx context.Context, url string, within time.Duration, exited <-chan struct{}) error {
	client := http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(within)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s answered %d", url, resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s: %w", within, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return errors.New("the process exited")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// current returns the current run's command and exit channel.
func (p *Proc) current() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.done
}

// Done returns a channel closed when the current run exits.
func (p *Proc) Done() <-chan struct{} {
	_, done := p.current()
	return done
}

// Exited reports whether the current run has exited (or none was started).
func (p *Proc) Exited() bool {
	_, done := p.current()
	if done == nil {
		return true
	}
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// Err returns how the last run exited: nil for status 0 or while it runs.
func (p *Proc) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// PID returns the current run's process id, or 0.
func (p *Proc) PID() int {
	cmd, _ := p.current()
	if cmd == nil || cmd.Process == nil {
		return 0
	}
	return cmd.Process.Pid
}

// Kill ends the process abruptly, as a crash would, and waits for it.
func (p *Proc) Kill() {
	cmd, done := p.current()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// KillGroup kills the process and everything in its process group, as the
// loss of a whole machine would, and waits for the process.
func (p *Proc) KillGroup() {
	cmd, done := p.current()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
}

// Term sends SIGTERM and returns how long the process took to exit and its
// exit error (nil for status 0). A process still running after within is
// killed.
func (p *Proc) Term(within time.Duration) (time.Duration, error) {
	cmd, done := p.current()
	if cmd == nil {
		return 0, nil
	}
	start := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return time.Since(start), p.Err()
	case <-time.After(within):
		p.Kill()
		return time.Since(start), fmt.Errorf("%s did not exit within %s", p.Name, within)
	}
}

// Stop ends the process gracefully, killing it after 20 s.
func (p *Proc) Stop() {
	if !p.Exited() {
		_, _ = p.Term(20 * time.Second)
	}
}

// Output returns the last of what the process wrote, over all its runs.
func (p *Proc) Output() string { return p.out.String() }

// tail keeps the last tailBytes of a process's output.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailBytes = 64 << 10

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - tailBytes; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
