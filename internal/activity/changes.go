package activity

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seckill/seckill/internal/platform/metrics"
)

// changesChannel is where the database announces every change of an
// activity that an instance must act on; the trigger of
// migrations/activity/00005_activity_changes.sql publishes there, from the
// transaction that makes the change, so an announcement is sent only once
// the change is committed.
const changesChannel = "seckill_activity"

// listenerName is the application_name of each instance's listening
// connection, so an operator (or a test) can find it in pg_stat_activity.
const listenerName = "seckill-activity-changes"

// The kinds of change announced, as the trigger names them.
const (
	changeEdited   = "edited"   // the window, stock or product moved
	changeDeleted  = "deleted"  // the activity is gone
	changeReturned = "returned" // units came back on sale
	changeSoldOut  = "sold_out" // the last unit was sold
	changeClosed   = "closed"   // the sale ended; unsold units went to the product
)

// maxListenRetry caps the wait between attempts to listen again.
const maxListenRetry = 10 * time.Second

// changes keeps this instance's admission gates in step with changes made
// through any instance: it listens on changesChannel over a connection of
// its own and drops the gate of each activity announced, so the next
// request rebuilds it from the database. While the connection is down the
// after-sale watch polls instead (listening reports false), and each time
// it listens again it drops every gate: what was announced meanwhile is
// lost.
type changes struct {
	connect   func(ctx context.Context) (*pgx.Conn, error)
	forget    func(activityID int64)
	forgetAll func()
	retry     time.Duration // the first wait before listening again; it doubles up to maxListenRetry
	log       *slog.Logger
	acted     *prometheus.CounterVec // by via (notify, resync) and kind
	up        atomic.Bool
}

func newChanges(connect func(context.Context) (*pgx.Conn, error), forget func(int64), forgetAll func(), retry time.Duration,
	m *metrics.Metrics, log *slog.Logger) (*changes, error) {
	acted, err := m.Counter("activity_changes_total",
		"Changes of activities acted on by dropping admission gates, by how they were learnt (notify, poll, resync) and kind.", "via", "kind")
	if err != nil {
		return nil, err
	}
	c := &changes{connect: connect, forget: forget, forgetAll: forgetAll, retry: retry, log: log, acted: acted}
	err = m.GaugeFunc("activity_changes_listening", "1 while this instance receives the database's announcements of changes, 0 while it polls.", func() float64 {
		if c.listening() {
			return 1
		}
		return 0
	})
	return c, err
}

// listening reports whether announcements are being received.
func (c *changes) listening() bool { return c.up.Load() }

// polled counts a gate dropped by the fallback poll.
func (c *changes) polled() { c.acted.WithLabelValues("poll", changeReturned).Inc() }

// run listens until ctx is cancelled, listening again after every lost
// connection.
func (c *changes) run(ctx context.Context) error {
	wait := c.retry
	for {
		listened, err := c.listen(ctx)
		c.up.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if listened {
			wait = c.retry
		}
		c.log.Warn("activity changes: not listening; polling for returned units until listening again", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, maxListenRetry)
	}
}

// listen connects, listens and acts on every announcement until the
// connection fails. It reports whether it got as far as listening.
func (c *changes) listen(ctx context.Context) (bool, error) {
	conn, err := c.connect(ctx)
	if err != nil {
		return false, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{changesChannel}.Sanitize()); err != nil {
		return false, err
	}
	c.up.Store(true)
	// Changes committed while nobody here listened were announced to
	// nobody: every gate may be stale.
	c.forgetAll()
	c.acted.WithLabelValues("resync", "all").Inc()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		var ch struct {
			ID   int64  `json:"id"`
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal([]byte(n.Payload), &ch); err != nil || ch.ID <= 0 {
			c.log.Warn("activity changes: an announcement not understood", "payload", n.Payload, "err", err)
			continue
		}
		switch ch.Kind {
		case changeSoldOut:
			// Nothing to drop: a gate that still counts units sends its
			// next claims to the database, which answers sold_out and
			// hands it the final winners.
		case changeEdited, changeDeleted, changeReturned, changeClosed:
			c.forget(ch.ID)
		default:
			// A kind this version does not know: dropping is always safe.
			c.forget(ch.ID)
		}
		c.acted.WithLabelValues("notify", ch.Kind).Inc()
	}
}
