package activity

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seckill/seckill/internal/platform/db"
	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/platform/metrics"
)

// closeEnded gives back the unsold units of up to $1 activities whose end
// has come, once each: closed_at marks it done in the same statement.
// SKIP LOCKED lets every instance run it; a purchase or a settlement that
// holds the row lock is simply waited for at the next tick.
const closeEnded = `UPDATE activity.activities a SET
		released = a.released + a.remaining, remaining = 0, closed_at = now(),
		product_version = a.product_version + 1
	FROM (SELECT id FROM activity.activities WHERE closed_at IS NULL AND end_time <= now()
		ORDER BY end_time LIMIT $1 FOR UPDATE SKIP LOCKED) due
	WHERE a.id = due.id
	RETURNING a.id`

// CloseEnded closes up to limit activities whose end has come and returns
// their ids.
func (s *Settlements) CloseEnded(ctx context.Context, limit int) (_ []int64, err error) {
	defer errs.Annotate(&err, "Settlements.CloseEnded")
	rows, err := s.pool.Query(ctx, closeEnded, limit)
	if err != nil {
		return nil, db.Map(err, "activities")
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	return ids, db.Map(err, "activities")
}

// productTotals is what the product service is told of one activity's
// reservation, at one version of it.
type productTotals struct {
	ActivityID, ProductID int64
	Sold, Released        int64
	Version               int64
}

// Unsynced returns up to limit activities whose totals the product service
// has not confirmed.
func (s *Settlements) Unsynced(ctx context.Context, limit int) (_ []productTotals, err error) {
	defer errs.Annotate(&err, "Settlements.Unsynced")
	const q = `SELECT id, product_id, paid, released, product_version FROM activity.activities
		WHERE product_version > product_synced ORDER BY id LIMIT $1`
	rows, err := s.pool.Query(ctx, q, limit)
	if err != nil {
		return nil, db.Map(err, "activities")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (productTotals, error) {
		var t productTotals
		err := r.Scan(&t.ActivityID, &t.ProductID, &t.Sold, &t.Released, &t.Version)
		return t, err
	})
	return out, db.Map(err, "activities")
}

// MarkSynced records that the product service holds version of activity
// id's totals. A later version stays pending.
func (s *Settlements) MarkSynced(ctx context.Context, id, version int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE activity.activities SET product_synced = $2
		WHERE id = $1 AND product_synced < $2`, id, version)
	return db.Map(err, "activities")
}

// Returns reads how many units each running activity got back, for the
// activities that got any: a change tells a process its admission gate is
// stale (a sold-out gate must reopen; a forfeited buyer must be known).
func (s *Settlements) Returns(ctx context.Context) (_ map[int64]int64, err error) {
	defer errs.Annotate(&err, "Settlements.Returns")
	rows, err := s.pool.Query(ctx, `SELECT id, returned FROM activity.activities WHERE closed_at IS NULL AND returned > 0`)
	if err != nil {
		return nil, db.Map(err, "activities")
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var id, n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, db.Map(err, "activities")
		}
		out[id] = n
	}
	return out, db.Map(rows.Err(), "activities")
}

// afterSale runs the activity service's background jobs of a unit's life
// after its win, on every instance:
//   - watch: a gate built before units came back is dropped, so the next
//     request rebuilds it from the database (a sold-out gate reopens);
//   - close: an ended activity's unsold units go back to the product;
//   - sync: the product service is told each activity's running totals of
//     sold and released units, until it confirms them.
type afterSale struct {
	store    *Settlements
	products productClient
	forget   func(activityID int64)
	every    time.Duration
	wake     chan struct{}
	log      *slog.Logger
	seen     map[int64]int64 // watch's last view of Returns

	// watchEvery is how often the watch looks for returned units while
	// listening reports false: the fallback of the announcements (changes),
	// which otherwise tell every instance at once. The query reads only
	// running activities that got units back. polled counts what it drops.
	watchEvery time.Duration
	listening  func() bool
	polled     func()
}

func newAfterSale(store *Settlements, products productClient, forget func(int64), every, watchEvery time.Duration,
	listening func() bool, polled func(), log *slog.Logger) *afterSale {
	return &afterSale{store: store, products: products, forget: forget, every: every, wake: make(chan struct{}, 1),
		log: log, seen: map[int64]int64{}, watchEvery: watchEvery, listening: listening, polled: polled}
}

// changed wakes the sync after a settlement moved a total.
func (a *afterSale) changed() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// run runs the three jobs until ctx is cancelled.
func (a *afterSale) run(ctx context.Context) error {
	t := time.NewTicker(min(a.every, a.watchEvery))
	defer t.Stop()
	last, watched := time.Time{}, time.Time{}
	for {
		if !a.listening() && time.Since(watched) >= a.watchEvery {
			watched = time.Now()
			a.watch(ctx)
		}
		if time.Since(last) >= a.every {
			last = time.Now()
			a.close(ctx)
		}
		a.sync(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-a.wake:
		}
	}
}

func (a *afterSale) watch(ctx context.Context) {
	cur, err := a.store.Returns(ctx)
	if err != nil {
		a.warn(ctx, "after sale: reading returns failed", err)
		return
	}
	for id, n := range cur {
		if a.seen[id] != n {
			// The first sighting counts too: a gate may predate it. So
			// does a change seen only now because the watch was idle
			// while announcements came.
			a.forget(id)
			a.polled()
		}
	}
	a.seen = cur
}

func (a *afterSale) close(ctx context.Context) {
	for {
		ids, err := a.store.CloseEnded(ctx, 100)
		if err != nil {
			a.warn(ctx, "after sale: closing ended activities failed", err)
			return
		}
		for _, id := range ids {
			a.forget(id)
			a.changed()
		}
		if len(ids) < 100 {
			return
		}
	}
}

func (a *afterSale) sync(ctx context.Context) {
	ts, err := a.store.Unsynced(ctx, 100)
	if err != nil {
		a.warn(ctx, "after sale: reading totals failed", err)
		return
	}
	for _, t := range ts {
		err := a.products.settle(ctx, t.ProductID, t.ActivityID, t.Sold, t.Released)
		switch {
		case errs.Is(err, errs.NotFound):
			// The reservation is gone (the activity was deleted, or
			// moved to another product): nothing is left to tell.
		case errs.Is(err, errs.Conflict):
			a.log.Error("after sale: the product service refused an activity's totals", "activity_id", t.ActivityID,
				"product_id", t.ProductID, "sold", t.Sold, "released", t.Released, "err", err)
		case err != nil:
			a.warn(ctx, "after sale: telling the product service failed; will retry", err)
			return
		}
		if err := a.store.MarkSynced(ctx, t.ActivityID, t.Version); err != nil {
			a.warn(ctx, "after sale: recording a sync failed; will retry", err)
			return
		}
	}
}

func (a *afterSale) warn(ctx context.Context, msg string, err error) {
	if ctx.Err() == nil {
		a.log.Warn(msg, "err", err)
	}
}

// settleMetrics count what the settlements did: units paid for, and units
// returned by cancelled or expired orders (on sale again, or back to the
// product after the end).
type settleMetrics struct {
	paid, returned prometheus.Counter
}

func newSettleMetrics(m *metrics.Metrics) (*settleMetrics, error) {
	units, err := m.Counter("settled_units_total", "Units of won orders settled, by outcome: paid, or returned (cancelled or expired).", "outcome")
	if err != nil {
		return nil, err
	}
	return &settleMetrics{paid: units.WithLabelValues("paid"), returned: units.WithLabelValues("returned")}, nil
}

func (sm *settleMetrics) observe(ap Applied) {
	sm.paid.Add(float64(ap.Paid))
	sm.returned.Add(float64(ap.ReturnedUnits))
}
