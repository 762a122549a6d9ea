package devstack

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/seckill/seckill/internal/devstack/pgserver"
)

// Postgres is the local stack's PostgreSQL cluster, kept in a directory so
// that data outlives a run.
type Postgres struct {
	*pgserver.Cluster
	// URL is the seckill database's.
	URL   string
	owned bool // started by this run, so stopped by it
}

// StartPostgres starts the cluster in dir on port (a free one when port is
// taken), or reuses it when an earlier run left it running, and makes sure
// the seckill database exists. It says what it did on out.
func StartPostgres(ctx context.Context, dir string, port int, out io.Writer) (*Postgres, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if p := runningPort(dir); p != 0 {
		port = p
	} else if !Free(port) {
		p, err := pgserver.FreePort()
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "port %d is taken; PostgreSQL will listen on %d\n", port, p)
		port = p
	}
	c, err := pgserver.New(ctx, dir, port)
	if err != nil {
		return nil, err
	}
	pg := &Postgres{Cluster: c}
	if c.Dir != dir {
		fmt.Fprintf(out, "the postgres user cannot reach %s, so it links to the cluster in %s\n", dir, c.Dir)
	}
	if c.Running(ctx) {
		fmt.Fprintf(out, "reusing PostgreSQL in %s on port %d\n", dir, port)
	} else {
		fmt.Fprintf(out, "starting PostgreSQL in %s on port %d\n", dir, port)
		if err := c.Start(ctx); err != nil {
			return nil, err
		}
		pg.owned = true
	}
	if err := c.CreateDatabase(ctx, "seckill", ""); err != nil {
		_ = pg.Stop(ctx)
		return nil, err
	}
	pg.URL = c.URL("seckill")
	return pg, nil
}

// Stop stops the cluster if this run started it.
func (pg *Postgres) Stop(ctx context.Context) error {
	if !pg.owned {
		return nil
	}
	return pg.Cluster.Stop(ctx)
}

// runningPort reads the port of a running cluster from its postmaster.pid.
func runningPort(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 4 {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(lines[0]))
	port, _ := strconv.Atoi(strings.TrimSpace(lines[3]))
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return 0
	}
	return port
}

// Free reports whether port is free on loopback.
func Free(port int) bool {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}
