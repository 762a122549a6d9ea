package pgserver

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNew_DirectoryThePostgresUserCannotReach asks, as root, for a cluster
// below a 0700 directory (a clone under root's home, say): the server runs
// as postgres, which cannot enter it, so the cluster must live elsewhere
// and the asked-for directory must lead to it, now and next time.
func TestNew_DirectoryThePostgresUserCannotReach(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root runs the server as another user")
	}
	if _, err := FindBinaries(); err != nil {
		t.Fatal(err)
	}
	closed := t.TempDir()
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(closed, "project", ".data", "postgres")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := New(ctx, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Remove() })
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatal(err)
	}
	if root := relocatedRoot(u.HomeDir); !strings.HasPrefix(c.Dir, root+"/") {
		t.Fatalf("cluster in %s, want it under %s", c.Dir, root)
	}
	if target, err := os.Readlink(dir); err != nil || target != c.Dir {
		t.Fatalf("%s links to %q (%v), want %s", dir, target, err, c.Dir)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Stop(context.Background())
	if err := c.CreateDatabase(ctx, "reach", ""); err != nil {
		t.Fatal(err)
	}
	// Through the link, the next New finds the same cluster, running.
	again, err := New(ctx, dir, c.Port)
	if err != nil {
		t.Fatal(err)
	}
	if again.Dir != c.Dir || !again.Running(ctx) {
		t.Errorf("second New: dir %s running %v, want %s running", again.Dir, again.Running(ctx), c.Dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		t.Errorf("the cluster is not visible through %s: %v", dir, err)
	}
}
