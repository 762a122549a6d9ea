// Package hastack runs the high-availability deployment on this machine
// without Docker, from Debian's packages: etcd as Patroni's store, three
// PostgreSQL nodes managed by Patroni with synchronous replication, and
// HAProxy in front (one port that reaches the current leader, one that
// spreads buyers over several activity instances). `make run-ha` and `make
// test-ha` start it through here, with the configuration files of
// deployments/ha that docker-compose.ha.yml uses too.
package hastack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/seckill/seckill/deployments/ha"
	"github.com/seckill/seckill/internal/devstack"
	"github.com/seckill/seckill/internal/devstack/pgserver"
)

// Packages are the Debian packages the HA stack runs on.
var Packages = []string{"etcd-server", "patroni", "haproxy"}

// ErrMissing means a program of the HA stack is not installed.
var ErrMissing = errors.New("the HA stack needs etcd, patroni and haproxy: apt-get install -y " + strings.Join(Packages, " "))

// ClusterConfig describes the database side of the stack.
type ClusterConfig struct {
	// Dir is where the cluster lives; it is created, and removed by Stop.
	Dir string
	// Async turns synchronous replication off, to measure what it saves;
	// the deployment's configuration keeps it on.
	Async bool
	// Log, when not nil, returns where a process's output goes besides
	// the tail each Proc keeps.
	Log func(name string) io.Writer
	// ActivityPort is HAProxy's activity frontend's port; 0 picks a free
	// one.
	ActivityPort int
}

// Cluster is etcd, three Patroni nodes and HAProxy.
type Cluster struct {
	Etcd    *devstack.Proc
	Nodes   []*Node
	HAProxy *devstack.Proc
	// URL reaches the leader through HAProxy as the services' role;
	// MultiHostURL names every node and lets the driver find the leader
	// (target_session_attrs=read-write); SuperURL is the superuser's,
	// through HAProxy.
	URL, MultiHostURL, SuperURL string
	// ActivityAddr is HAProxy's activity frontend; the instances it
	// spreads buyers over are at ActivityBackends.
	ActivityAddr     string
	ActivityBackends []string
	// StatsURL is HAProxy's statistics page.
	StatsURL string

	dir      string
	password string // the services' role's
}

// Node is one Patroni-managed PostgreSQL.
type Node struct {
	Name    string
	PGPort  int
	APIPort int
	DataDir string
	Patroni *devstack.Proc
}

// healthyWithin bounds a cluster's start: the first node's initdb, the
// others' base backups.
var healthyWithin = 3 * time.Minute

// activityBackends is how many activity instances HAProxy balances over;
// haproxy.cfg names each.
const activityBackends = 2

// StartCluster starts etcd, three Patroni nodes and HAProxy, and returns
// once a leader accepts writes through HAProxy and a synchronous standby
// confirms them.
func StartCluster(ctx context.Context, cfg ClusterConfig) (_ *Cluster, err error) {
	for _, prog := range []string{"etcd", "patroni", "haproxy"} {
		if _, err := exec.LookPath(prog); err != nil {
			return nil, fmt.Errorf("%s: %w", prog, ErrMissing)
		}
	}
	bin, err := pgserver.FindBinaries()
	if err != nil {
		return nil, err
	}
	// Patroni wants every server program (pg_controldata, pg_rewind, …) in
	// one directory; PATH may hold links to a few of them only.
	if real, err := filepath.EvalSymlinks(filepath.Join(bin, "initdb")); err == nil {
		bin = filepath.Dir(real)
	}
	cred, err := postgresUser()
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: cfg.Dir, password: token()}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	if err := c.writeFiles(cfg.Async, cred); err != nil {
		return nil, err
	}
	ports, err := freePorts(6 + 3 + activityBackends + 2)
	if err != nil {
		return nil, err
	}
	next := func() int { p := ports[0]; ports = ports[1:]; return p }
	logTo := func(name string) io.Writer {
		if cfg.Log == nil {
			return nil
		}
		return cfg.Log(name)
	}

	etcdClient, etcdPeer := next(), next()
	c.Etcd = &devstack.Proc{Name: "etcd", Path: "etcd", Log: logTo("etcd"),
		ReadyURL: fmt.Sprintf("http://127.0.0.1:%d/health", etcdClient),
		Args: []string{"--name", "etcd0", "--data-dir", filepath.Join(c.dir, "etcd"),
			"--listen-client-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdClient),
			"--advertise-client-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdClient),
			"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPeer),
			"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPeer),
			"--initial-cluster", fmt.Sprintf("etcd0=http://127.0.0.1:%d", etcdPeer),
			"--initial-cluster-state", "new", "--log-level", "warn"}}
	if err := c.Etcd.Start(ctx); err != nil {
		return nil, err
	}

	superPassword, replPassword := token(), token()
	var hosts []string
	for i := 1; i <= 3; i++ {
		n := &Node{Name: fmt.Sprintf("pg%d", i), PGPort: next(), APIPort: next()}
		dir := filepath.Join(c.dir, n.Name)
		n.DataDir = filepath.Join(dir, "data")
		if err := mkdirOwned(dir, cred); err != nil {
			return nil, err
		}
		pg, api := fmt.Sprintf("127.0.0.1:%d", n.PGPort), fmt.Sprintf("127.0.0.1:%d", n.APIPort)
		n.Patroni = &devstack.Proc{Name: n.Name, Path: "patroni", Args: []string{filepath.Join(c.dir, "patroni.yml")},
			Dir: dir, User: cred, Log: logTo(n.Name),
			Env: []string{"HOME=" + dir, "PATRONI_NAME=" + n.Name,
				"PATRONI_RESTAPI_LISTEN=" + api, "PATRONI_RESTAPI_CONNECT_ADDRESS=" + api,
				"PATRONI_POSTGRESQL_LISTEN=" + pg, "PATRONI_POSTGRESQL_CONNECT_ADDRESS=" + pg,
				"PATRONI_POSTGRESQL_DATA_DIR=" + n.DataDir, "PATRONI_POSTGRESQL_BIN_DIR=" + bin,
				"PATRONI_POSTGRESQL_PGPASS=" + filepath.Join(dir, "pgpass"),
				fmt.Sprintf("PATRONI_ETCD3_HOSTS=127.0.0.1:%d", etcdClient),
				"PATRONI_SUPERUSER_USERNAME=postgres", "PATRONI_SUPERUSER_PASSWORD=" + superPassword,
				"PATRONI_REPLICATION_USERNAME=replicator", "PATRONI_REPLICATION_PASSWORD=" + replPassword,
				"SECKILL_DB_PASSWORD=" + c.password}}
		c.Nodes = append(c.Nodes, n)
		hosts = append(hosts, pg)
	}
	// The nodes race for the leader key; the winner runs initdb, the
	// others take a base backup from it.
	for _, n := range c.Nodes {
		if err := n.Patroni.Start(ctx); err != nil {
			return nil, err
		}
	}

	pgFront, activityFront, stats := next(), next(), next()
	if cfg.ActivityPort != 0 {
		activityFront = cfg.ActivityPort
	}
	env := []string{"HA_ERRORS=" + filepath.Join(c.dir, "errors"),
		fmt.Sprintf("HA_PG_BIND=127.0.0.1:%d", pgFront), fmt.Sprintf("HA_ACTIVITY_BIND=127.0.0.1:%d", activityFront),
		fmt.Sprintf("HA_STATS_BIND=127.0.0.1:%d", stats)}
	for i, n := range c.Nodes {
		env = append(env, fmt.Sprintf("HA_PG%d=127.0.0.1:%d", i+1, n.PGPort),
			fmt.Sprintf("HA_PG%d_API_HOST=127.0.0.1", i+1), fmt.Sprintf("HA_PG%d_API_PORT=%d", i+1, n.APIPort))
	}
	for i := range activityBackends {
		addr := fmt.Sprintf("127.0.0.1:%d", next())
		c.ActivityBackends = append(c.ActivityBackends, addr)
		env = append(env, fmt.Sprintf("HA_ACTIVITY%d=%s", i+1, addr))
	}
	c.StatsURL = fmt.Sprintf("http://127.0.0.1:%d/", stats)
	c.ActivityAddr = fmt.Sprintf("127.0.0.1:%d", activityFront)
	c.HAProxy = &devstack.Proc{Name: "haproxy", Path: "haproxy", Args: []string{"-db", "-f", filepath.Join(c.dir, "haproxy.cfg")},
		Env: env, ReadyURL: c.StatsURL, Log: logTo("haproxy")}
	if err := c.HAProxy.Start(ctx); err != nil {
		return nil, err
	}
	c.URL = fmt.Sprintf("postgres://seckill:%s@127.0.0.1:%d/seckill?sslmode=disable", c.password, pgFront)
	c.SuperURL = fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/seckill?sslmode=disable", superPassword, pgFront)
	c.MultiHostURL = fmt.Sprintf("postgres://seckill:%s@%s/seckill?sslmode=disable&target_session_attrs=read-write", c.password, strings.Join(hosts, ","))
	if _, err := c.WaitHealthy(ctx, healthyWithin); err != nil {
		for _, n := range c.Nodes {
			err = fmt.Errorf("%w\n%s's last lines:\n%s", err, n.Name, devstack.LastLines(n.Patroni.Output(), 15))
		}
		return nil, err
	}
	return c, nil
}

// writeFiles lays out the cluster's directory: deployments/ha's files,
// with post_init where this stack keeps it, readable by the postgres user.
func (c *Cluster) writeFiles(async bool, cred *syscall.Credential) error {
	if c.dir == "" {
		d, err := os.MkdirTemp("", "seckill-ha-")
		if err != nil {
			return err
		}
		c.dir = d
	}
	if err := os.MkdirAll(filepath.Join(c.dir, "errors"), 0o755); err != nil {
		return err
	}
	// os.MkdirTemp makes it 0700; the postgres user must enter it.
	if err := os.Chmod(c.dir, 0o755); err != nil {
		return err
	}
	err := fs.WalkDir(ha.Files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := ha.Files.ReadFile(path)
		if err != nil {
			return err
		}
		if path == "patroni.yml" {
			b, err = patroniConfig(b, filepath.Join(c.dir, "post_init.sh"), async)
			if err != nil {
				return err
			}
		}
		return os.WriteFile(filepath.Join(c.dir, path), b, 0o755)
	})
	if err != nil {
		return fmt.Errorf("write the HA configuration: %w", err)
	}
	return nil
}

// patroniConfig is deployments/ha/patroni.yml with post_init where this
// stack put it, and synchronous replication off when async is set. Each
// edit must find its line: a renamed setting fails here, not silently.
func patroniConfig(b []byte, postInit string, async bool) ([]byte, error) {
	s := string(b)
	edits := [][2]string{{"post_init: /etc/seckill/post_init.sh", "post_init: " + postInit}}
	if async {
		edits = append(edits, [2]string{"synchronous_mode: true", "synchronous_mode: false"},
			[2]string{"synchronous_mode_strict: true", "synchronous_mode_strict: false"})
	}
	for _, e := range edits {
		if !strings.Contains(s, e[0]) {
			return nil, fmt.Errorf("patroni.yml has no line %q", e[0])
		}
		s = strings.Replace(s, e[0], e[1], 1)
	}
	return []byte(s), nil
}

// Stop stops HAProxy, the Patroni nodes (each stops its PostgreSQL) and
// etcd, and removes the cluster's directory.
func (c *Cluster) Stop() {
	if c.HAProxy != nil {
		c.HAProxy.Stop()
	}
	for _, n := range c.Nodes {
		n.Patroni.Stop()
		// A node whose Patroni was killed leaves its postmaster behind.
		n.killPostmaster(syscall.SIGKILL)
	}
	if c.Etcd != nil {
		c.Etcd.Stop()
	}
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
}
