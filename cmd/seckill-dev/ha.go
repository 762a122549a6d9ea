package main

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/seckill/seckill/internal/devstack"
	"github.com/seckill/seckill/internal/devstack/hastack"
)

// runHA runs the HA stack (make run-ha) until ctx ends: etcd, three
// Patroni-managed PostgreSQL nodes with synchronous replication, HAProxy,
// and the services with two activity instances behind it. Buyers and the
// administrator use the activity service through HAProxy, on the port make
// run gives it when that is free. The cluster lives in a temporary
// directory and is removed at the stop: it is a stage for trying failovers,
// not a place to keep data.
func runHA(ctx context.Context, o options, getenv func(string) string, stdout io.Writer) error {
	var mu sync.Mutex
	logs := func(name string) io.Writer {
		return &prefixWriter{mu: &mu, out: stdout, prefix: fmt.Sprintf("[%-9s] ", name)}
	}
	port := func(p int) int {
		if devstack.Free(p) {
			return p
		}
		fmt.Fprintf(stdout, "port %d is taken; a free one is used instead\n", p)
		return 0
	}
	fmt.Fprintln(stdout, "starting etcd, three Patroni nodes, HAProxy and the services (about 30 s)…")
	st, err := hastack.Start(ctx, hastack.Config{
		ClusterConfig: hastack.ClusterConfig{Log: logs, ActivityPort: port(activityPort)},
		Bin:           o.bin, AdminToken: getenv("ADMIN_TOKEN"), ServiceToken: getenv("SERVICE_TOKEN"),
		ProductPort: port(productPort), OrderPort: port(orderPort),
		Env: []string{"RELAY_INTERVAL=200ms", "JAEGER_DISABLED=true", "ACCESS_LOG=false"},
	})
	if err != nil {
		return err
	}
	defer st.Stop()
	leader, _ := st.Leader(ctx)
	fmt.Fprintln(stdout, "\nseckill HA is running:")
	fmt.Fprintf(stdout, "  activity  %s   (HAProxy, over %d instances: %v)\n", st.ActivityURL, len(st.Activities), st.ActivityBackends)
	fmt.Fprintf(stdout, "  product   %s\n  order     %s\n", st.Product.URL, st.Order.URL)
	fmt.Fprintf(stdout, "  postgres  %s   (HAProxy to the leader, now %s)\n", st.DatabaseURL, leader.Name)
	fmt.Fprintf(stdout, "  multi-host DATABASE_URL: %s\n", st.MultiHostURL)
	fmt.Fprintf(stdout, "  HAProxy stats %s\n", st.StatsURL)
	for _, n := range st.Nodes {
		fmt.Fprintf(stdout, "  %s  PostgreSQL 127.0.0.1:%d  Patroni REST http://127.0.0.1:%d/cluster  data %s\n",
			n.Name, n.PGPort, n.APIPort, n.DataDir)
	}
	fmt.Fprintf(stdout, "  admin     Authorization: Bearer %s\n", st.AdminToken)
	fmt.Fprintln(stdout, "\nThe stack is up. Kill the leader's postmaster to watch a failover; Ctrl-C stops it all.")
	<-ctx.Done()
	fmt.Fprintln(stdout, "\nstopping…")
	return nil
}
