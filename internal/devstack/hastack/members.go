package hastack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Member is one node as Patroni's GET /cluster describes it.
type Member struct {
	Name  string `json:"name"`
	Role  string `json:"role"` // leader, sync_standby or replica
	State string `json:"state"`
}

// Members asks each node in turn for the cluster's view until one answers.
func (c *Cluster) Members(ctx context.Context) ([]Member, error) {
	var last error
	for _, n := range c.Nodes {
		var out struct{ Members []Member }
		if err := getJSON(ctx, n.api("/cluster"), &out); err != nil {
			last = err
			continue
		}
		return out.Members, nil
	}
	return nil, fmt.Errorf("no Patroni node answered: %w", last)
}

// WaitHealthy waits until there is a leader, a synchronous standby (unless
// replication is asynchronous) and every running node replicates, and
// returns the leader.
func (c *Cluster) WaitHealthy(ctx context.Context, within time.Duration) (*Node, error) {
	var last string
	err := poll(ctx, within, func() bool {
		ms, err := c.Members(ctx)
		if err != nil {
			last = err.Error()
			return false
		}
		roles := map[string]int{}
		for _, m := range ms {
			if m.State == "running" || m.State == "streaming" {
				roles[m.Role]++
			}
		}
		last = fmt.Sprint(ms)
		if roles["leader"] != 1 || roles["sync_standby"]+roles["replica"] != len(ms)-1 ||
			(roles["sync_standby"] != 1 && !c.async()) {
			return false
		}
		// Running is not yet streaming: the leader must see every
		// replica's WAL receiver.
		leader, err := c.Leader(ctx)
		if err != nil {
			return false
		}
		var st struct {
			Replication []struct{ State string }
		}
		if err := getJSON(ctx, leader.api("/patroni"), &st); err != nil {
			return false
		}
		streaming := 0
		for _, r := range st.Replication {
			if r.State == "streaming" {
				streaming++
			}
		}
		last = fmt.Sprintf("%v; %d replicas streaming", ms, streaming)
		return streaming == len(ms)-1
	})
	if err != nil {
		return nil, fmt.Errorf("the cluster did not become healthy: %w (last seen: %s)", err, last)
	}
	return c.Leader(ctx)
}

// async reports whether the cluster runs with asynchronous replication.
func (c *Cluster) async() bool {
	b, err := os.ReadFile(filepath.Join(c.dir, "patroni.yml"))
	return err == nil && strings.Contains(string(b), "synchronous_mode: false")
}

// Leader returns the node whose Patroni answers GET /primary with 200.
func (c *Cluster) Leader(ctx context.Context) (*Node, error) {
	for _, n := range c.Nodes {
		if status(ctx, n.api("/primary")) == http.StatusOK {
			return n, nil
		}
	}
	return nil, errors.New("no node is the leader")
}

// WaitLeader waits for a leader other than not (nil: any) and returns it.
func (c *Cluster) WaitLeader(ctx context.Context, not *Node, within time.Duration) (*Node, error) {
	var leader *Node
	err := poll(ctx, within, func() bool {
		l, err := c.Leader(ctx)
		if err == nil && l != not {
			leader = l
			return true
		}
		return false
	})
	if err != nil {
		return nil, fmt.Errorf("no new leader: %w", err)
	}
	return leader, nil
}

// Replicas returns the nodes that are not the leader.
func (c *Cluster) Replicas(leader *Node) []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if n != leader {
			out = append(out, n)
		}
	}
	return out
}
