package activity

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seckill/seckill/internal/platform/db"
	"github.com/seckill/seckill/internal/platform/metrics"
	"github.com/seckill/seckill/internal/seckill"
)

// saleMetrics are the activity service's own metrics, beside the request
// counts and latencies every service has.
type saleMetrics struct {
	outcomes map[seckill.Status]prometheus.Counter // resolved once: no label lookup per request
	batch    prometheus.Observer
}

func newSaleMetrics(m *metrics.Metrics, store *Store, outbox *Outbox) (*saleMetrics, error) {
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
		n, err := outbox.Backlog(ctx)
		if err != nil {
			return -1 // the database did not answer; -1 cannot be mistaken for a level
		}
		return float64(n)
	})
	if err != nil {
		return nil, err
	}
	if err := m.Registerer().Register(newStockCollector(store)); err != nil {
		return nil, fmt.Errorf("register stock gauges: %w", err)
	}
	sm := &saleMetrics{outcomes: map[seckill.Status]prometheus.Counter{}, batch: batch.WithLabelValues()}
	for _, s := range []seckill.Status{seckill.Won, seckill.AlreadyWon, seckill.SoldOut, seckill.NotStarted, seckill.Ended, seckill.Forfeited} {
		sm.outcomes[s] = outcomes.WithLabelValues(string(s))
	}
	return sm, nil
}

func (sm *saleMetrics) observe(s seckill.Status) {
	if c, ok := sm.outcomes[s]; ok {
		c.Inc()
	}
}

// The stock gauges: what a dashboard needs to draw a sale's stock running
// out. They are read from the database at each scrape, for the activities
// open now or ended within the hour (at most stockSeriesLimit), so the
// series stay few and agree across activity instances.

const stockSeriesLimit = 50

type stockCollector struct {
	store            *Store
	stock, remaining *prometheus.Desc
}

func newStockCollector(store *Store) stockCollector {
	return stockCollector{store: store,
		stock:     prometheus.NewDesc("seckill_activity_stock", "Units an activity put on sale.", []string{"activity_id"}, nil),
		remaining: prometheus.NewDesc("seckill_activity_remaining", "Units of an activity not yet sold.", []string{"activity_id"}, nil)}
}

// Describe implements prometheus.Collector.
func (c stockCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.stock
	ch <- c.remaining
}

// Collect implements prometheus.Collector. A database that does not answer
// leaves the gauges out of this scrape rather than reporting a guess.
func (c stockCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	const q = `SELECT id, stock, remaining FROM activity.activities
		WHERE start_time <= now() AND end_time > now() - interval '1 hour'
		ORDER BY id DESC LIMIT $1`
	rows, err := c.store.pool.Query(ctx, q, stockSeriesLimit)
	if err != nil {
		return
	}
	defer rows.Close()
	for rows.Next() {
		var id, stock, remaining int64
		if rows.Scan(&id, &stock, &remaining) != nil {
			return
		}
		label := strconv.FormatInt(id, 10)
		for _, g := range []struct {
			desc  *prometheus.Desc
			value int64
		}{{c.stock, stock}, {c.remaining, remaining}} {
			// NewConstMetric fails only on a wrong label count, which
			// the descriptors above rule out.
			if m, err := prometheus.NewConstMetric(g.desc, prometheus.GaugeValue, float64(g.value), label); err == nil {
				ch <- m
			}
		}
	}
}

// clockMetrics exports the measured offset to the database's clock and its
// error bound: an instance whose clock drifts shows it here, and decides
// correctly all the same.
func clockMetrics(m *metrics.Metrics, c *db.Clock) error {
	if err := m.GaugeFunc("db_clock_offset_seconds", "The database's clock minus this process's, as last measured.", func() float64 {
		off, _, _ := c.Offset()
		return off.Seconds()
	}); err != nil {
		return err
	}
	return m.GaugeFunc("db_clock_uncertainty_seconds", "The error bound of db_clock_offset_seconds: half the round trip that measured it.", func() float64 {
		_, unc, _ := c.Offset()
		return unc.Seconds()
	})
}
