package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/seckill/seckill/internal/bench"
	"github.com/seckill/seckill/internal/devstack"
	"github.com/seckill/seckill/internal/devstack/hastack"
	"github.com/seckill/seckill/internal/devstack/pgserver"
)

// runHA is make bench-ha: make bench's winning phase on the single server
// (cluster, one PostgreSQL) and on the HA cluster, in turn, o.haRuns times
// each, verified as make bench verifies it; it prints the rates and their
// ratio and writes them to the marked section of o.out (old is its
// content now), leaving the rest of the file as make bench wrote it.
func runHA(ctx context.Context, o options, cluster *pgserver.Cluster, old, tmp string, stdout io.Writer) error {
	res := haResult{o: o, cores: runtime.NumCPU(), date: time.Now().UTC(), load: loadAverage()}
	dbURL, err := migratedDatabase(ctx, cluster, "seckill")
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "== the HA cluster: etcd, three Patroni-managed PostgreSQL nodes (synchronous replication, strict), HAProxy (about 30 s)")
	// The HA services' logs get a directory of their own: the single
	// server's services write product.log and the others in tmp.
	logDir := filepath.Join(tmp, "ha-logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	logs := &devstack.LogFiles{Dir: logDir}
	defer logs.Close()
	// The services run with their defaults, as on the single server:
	// users load-test the defaults.
	st, err := hastack.Start(ctx, hastack.Config{ClusterConfig: hastack.ClusterConfig{Log: logs.Open}, Bin: o.bin})
	if err != nil {
		return err
	}
	defer st.Stop()
	// They run only during their own sales: idle, their relays and
	// sweepers would still poll the leader during the direct runs.
	st.StopServices()
	if leader, err := st.Leader(ctx); err == nil {
		fmt.Fprintf(stdout, "  leader %s, services through HAProxy at %s\n", leader.Name, st.ActivityURL)
	}

	s := winningSale(o)
	fmt.Fprintf(stdout, "== the winning phase: stock %d, %d users x 2, %d connections, timed through /stats every %s; %d runs of each stack in turn\n",
		s.stock, s.users, o.conns, s.watch, o.haRuns)
	for i := range o.haRuns {
		fmt.Fprintf(stdout, "-- %d/%d single server: one PostgreSQL, one activity instance\n", i+1, o.haRuns)
		r, _, err := stackRun(ctx, o, dbURL, tmp, s, nil)
		if err != nil {
			return err
		}
		r.Print(stdout)
		res.single = append(res.single, r)

		fmt.Fprintf(stdout, "-- %d/%d HA: buyers through HAProxy over %d activity instances\n", i+1, o.haRuns, len(st.Activities))
		if r, err = proxiedRun(ctx, o, st, s); err != nil {
			return err
		}
		r.Print(stdout)
		res.proxied = append(res.proxied, r)

		if !o.haDirect {
			continue
		}
		// The multi-host URL names every node and lets the driver find
		// the leader: no HAProxy between the service and PostgreSQL.
		fmt.Fprintf(stdout, "-- %d/%d HA: one activity instance straight on the leader\n", i+1, o.haRuns)
		if r, _, err = stackRun(ctx, o, st.MultiHostURL, tmp, s, nil); err != nil {
			return err
		}
		r.Print(stdout)
		res.direct = append(res.direct, r)
	}

	table := res.table()
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, table)
	doc, err := replaceMarked(old, res.section(table))
	if err != nil {
		return err
	}
	if err := os.WriteFile(o.out, []byte(doc), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwritten to the %s section of %s\n", haBegin, o.out)
	if !res.ok() {
		return fmt.Errorf("verification failed")
	}
	return nil
}

// proxiedRun starts the HA stack's services, fresh as the single server's
// are for each run, runs the sale through HAProxy's activity frontend, and
// stops them again.
func proxiedRun(ctx context.Context, o options, st *hastack.Stack, s sale) (bench.Report, error) {
	if err := st.StartServices(ctx); err != nil {
		return bench.Report{}, err
	}
	defer st.StopServices()
	return saleOn(ctx, o, services{st.ActivityURL, st.Product.URL, st.Order.URL, st.AdminToken}, s)
}

// loadAverage is the machine's load average over 1, 5 and 15 minutes, as
// uptime shows it: on a shared machine, what else was running.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], ", ")
	}
	return "unknown"
}
