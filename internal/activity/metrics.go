package activity

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seckill/seckill/internal/platform/metrics"
	"github.com/seckill/seckill/internal/seckill"
)

// saleMetrics are the activity service's own metrics, beside the request
// counts and latencies every service has.
type saleMetrics struct {
	outcomes map[seckill.Status]prometheus.Counter // resolved once: no label lookup per request
	batch    prometheus.Observer
}

func newSaleMetrics(m *metrics.Metrics, store *Store) (*saleMetrics, error) {
	outcomes, err := m.Counter("seckill_outcomes_total", "Purchase answers by status.", "status")
	if err != nil {
		return nil, err
	}
	batch, err := m.Histogram("seckill_commit_batch_size", "Claims decided by one group-commit transaction.",
		prometheus.ExponentialBuckets(1, 2, 11))
	if err != nil {
		return nil, err
	}
	err = m.GaugeFunc("relay_backlog", "Committed wins not yet confirmed by the order service.", func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, err := store.Backlog(ctx)
		if err != nil {
			return -1 // the database did not answer; -1 cannot be mistaken for a level
		}
		return float64(n)
	})
	if err != nil {
		return nil, err
	}
	sm := &saleMetrics{outcomes: map[seckill.Status]prometheus.Counter{}, batch: batch.WithLabelValues()}
	for _, s := range []seckill.Status{seckill.Won, seckill.AlreadyWon, seckill.SoldOut, seckill.NotStarted, seckill.Ended} {
		sm.outcomes[s] = outcomes.WithLabelValues(string(s))
	}
	return sm, nil
}

func (sm *saleMetrics) observe(s seckill.Status) {
	if c, ok := sm.outcomes[s]; ok {
		c.Inc()
	}
}
