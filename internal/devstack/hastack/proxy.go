package hastack

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// ProxyStats reads HAProxy's statistics: one row per frontend, backend
// and server, keyed by HAProxy's CSV column names (pxname, svname,
// status, wretr, wredis, …).
func (c *Cluster) ProxyStats(ctx context.Context) ([]map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.StatsURL+";csv", nil)
	if err != nil {
		return nil, err
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("HAProxy stats: %w", err)
	}
	defer resp.Body.Close()
	r := csv.NewReader(resp.Body)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil || len(recs) == 0 {
		return nil, fmt.Errorf("HAProxy stats: %v", err)
	}
	head := recs[0]
	head[0] = "pxname" // the header line starts "# pxname"
	var out []map[string]string
	for _, rec := range recs[1:] {
		m := map[string]string{}
		for i, v := range rec {
			if i < len(head) {
				m[head[i]] = v
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// InRotation reports whether HAProxy sends buyers to the activity instance
// named name (activity1, …).
func (c *Cluster) InRotation(ctx context.Context, name string) bool {
	rows, err := c.ProxyStats(ctx)
	if err != nil {
		return false
	}
	for _, r := range rows {
		if r["pxname"] == "activity" && r["svname"] == name {
			return r["status"] == "UP"
		}
	}
	return false
}

// WaitInRotation waits until HAProxy sends buyers to the named instance.
func (c *Cluster) WaitInRotation(ctx context.Context, name string, within time.Duration) error {
	if err := poll(ctx, within, func() bool { return c.InRotation(ctx, name) }); err != nil {
		return fmt.Errorf("HAProxy did not put %s in rotation: %w", name, err)
	}
	return nil
}

// Retries returns how many requests to the activity instances HAProxy
// retried and redispatched to another instance since it started.
func (c *Cluster) Retries(ctx context.Context) (retries, redispatches int, err error) {
	rows, err := c.ProxyStats(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, r := range rows {
		if r["pxname"] == "activity" && r["svname"] == "BACKEND" {
			retries, _ = strconv.Atoi(r["wretr"])
			redispatches, _ = strconv.Atoi(r["wredis"])
		}
	}
	return retries, redispatches, nil
}
