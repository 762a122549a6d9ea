// Package pgserver runs a throwaway PostgreSQL cluster from the system's
// server binaries, for tests and for `make run`. As root it runs the server
// as the postgres user, since initdb refuses to run as root.
package pgserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoBinaries means the PostgreSQL server binaries are not installed.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under /usr/lib/postgresql/*/bin: install them with `apt-get install -y postgresql`")

// Cluster is one PostgreSQL data directory and, while started, its server.
type Cluster struct {
	Dir  string // data directory
	Port int
	bin  string // directory holding initdb and pg_ctl
	uid  int    // -1 when the server runs as the current user
	gid  int
	Opts []string // extra server settings, as "name=value"
}

// FindBinaries returns the directory holding initdb and pg_ctl.
func FindBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Prefer the newest version.
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// New prepares a cluster in dir (created when missing) on port; port 0
// picks a free one. It runs initdb when dir holds no cluster yet.
func New(ctx context.Context, dir string, port int, opts ...string) (*Cluster, error) {
	bin, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, fmt.Errorf("pick a port: %w", err)
		}
	}
	c := &Cluster{Dir: dir, Port: port, bin: bin, uid: -1, gid: -1, Opts: opts}
	home := ""
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs a postgres user to run the server as: %w", err)
		}
		c.uid, _ = strconv.Atoi(u.Uid)
		c.gid, _ = strconv.Atoi(u.Gid)
		home = u.HomeDir
	}
	if c.uid >= 0 {
		if c.Dir, err = reachableDir(dir, home, c.uid, c.gid); err != nil {
			return nil, err
		}
		dir = c.Dir
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if c.uid >= 0 {
		// The parent must be reachable by the postgres user too.
		_ = os.Chmod(filepath.Dir(dir), 0o755)
		if err := os.Chown(dir, c.uid, c.gid); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err == nil {
		return c, nil
	}
	if err := c.run(ctx, "initdb", "-D", dir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--locale=C"); err != nil {
		return nil, err
	}
	return c, nil
}

// relocatedRoot returns where the clusters live whose requested directory
// the postgres user cannot reach: under its home, which it owns.
func relocatedRoot(home string) string {
	if home == "" || home == "/" {
		home = "/var/lib/postgresql"
	}
	return filepath.Join(home, "seckill")
}

// reachableDir returns where the cluster asked for at dir can live when the
// server runs as uid:gid, whose home is home. That is dir itself, unless a
// directory above it cannot be entered by that user (a clone under root's
// 0700 home, say); then the cluster lives under relocatedRoot and dir
// becomes a link to it, so the same dir finds the same cluster next time. A
// dir that is already such a link is followed.
func reachableDir(dir, home string, uid, gid int) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	parent := filepath.Dir(abs)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	// New opens the parent itself (mode 0755); what must already be open
	// is everything above it.
	if canEnter(filepath.Dir(parent), uid, gid) {
		return abs, nil
	}
	if entries, err := os.ReadDir(abs); err == nil && len(entries) > 0 {
		return "", fmt.Errorf("the postgres user cannot reach %s (a directory above it is closed to others), and it is not empty: move it, or choose a directory the postgres user can reach", abs)
	}
	sum := fnv.New64a()
	sum.Write([]byte(abs))
	root := relocatedRoot(home)
	alt := filepath.Join(root, fmt.Sprintf("%s-%x", filepath.Base(abs), sum.Sum64()))
	// Whatever must be made above the cluster stays open to its owner.
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	if err := os.MkdirAll(alt, 0o700); err != nil {
		return "", err
	}
	for _, d := range []string{root, alt} {
		if err := os.Chown(d, uid, gid); err != nil {
			return "", err
		}
	}
	_ = os.Remove(abs) // an empty directory where the link goes
	if err := os.Symlink(alt, abs); err != nil {
		return "", fmt.Errorf("link %s to %s: %w", abs, alt, err)
	}
	return alt, nil
}

// canEnter reports whether uid:gid may pass through dir and every directory
// above it.
func canEnter(dir string, uid, gid int) bool {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return false
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return true
		}
		mode := fi.Mode().Perm()
		switch {
		case int(st.Uid) == uid:
			if mode&0o100 == 0 {
				return false
			}
		case int(st.Gid) == gid:
			if mode&0o010 == 0 {
				return false
			}
		case mode&0o001 == 0:
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

// URL returns a connection URL for database name.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, name)
}

// Start starts the server and waits until it accepts connections.
func (c *Cluster) Start(ctx context.Context) error {
	o := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c max_connections=300", c.Port, c.Dir)
	for _, s := range c.Opts {
		o += " -c " + s
	}
	return c.run(ctx, "pg_ctl", "-D", c.Dir, "-l", filepath.Join(c.Dir, "server.log"), "-o", o, "-w", "-t", "60", "start")
}

// Stop stops the server with a fast shutdown: sessions are ended and
// everything committed is on disk.
func (c *Cluster) Stop(ctx context.Context) error {
	return c.run(ctx, "pg_ctl", "-D", c.Dir, "-m", "fast", "-w", "-t", "60", "stop")
}

// Running reports whether the server is up.
func (c *Cluster) Running(ctx context.Context) bool {
	return c.run(ctx, "pg_ctl", "-D", c.Dir, "status") == nil
}

// Remove deletes the data directory; the server must be stopped.
func (c *Cluster) Remove() error { return os.RemoveAll(c.Dir) }

// CreateDatabase creates database name, from template when not empty, and
// does nothing when it exists. It connects over SQL rather than running
// createdb, which some installations do not put beside initdb.
func (c *Cluster) CreateDatabase(ctx context.Context, name, template string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return fmt.Errorf("connect to cluster: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	q := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		q += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	if _, err := conn.Exec(ctx, q); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// The server must not die with the process that started it, nor get
	// its terminal's Ctrl-C twice: give it its own process group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if c.uid >= 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(c.uid), Gid: uint32(c.gid)}
		cmd.Dir = "/"
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %v: %w\n%s", name, args, err, out.String())
	}
	return nil
}

// WaitReady waits until the server accepts TCP connections or ctx ends.
func (c *Cluster) WaitReady(ctx context.Context) error {
	for {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", c.Port), time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
