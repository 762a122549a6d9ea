package db

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Clock is the database's clock as read from this process: the local clock
// plus an offset measured against the database. Decisions that must agree
// across instances (has a sale started, has it ended) are made with it, so
// an instance whose own clock is minutes off answers like every other one,
// and like the database, which decides the commits with clock_timestamp().
//
// Now is one atomic load on top of the local clock: it is read on every
// purchase.
type Clock struct {
	pool  *pgxpool.Pool
	local func() time.Time

	offset      atomic.Int64 // nanoseconds to add to the local clock
	uncertainty atomic.Int64 // nanoseconds: half the round trip of the measurement
	measured    atomic.Bool
}

// clockSamples is how many round trips one measurement takes; the one with
// the shortest round trip bounds the error best (a sample delayed by a busy
// CPU or a queued connection is simply not used).
const clockSamples = 3

// NewClock returns a Clock reading the database through pool and the local
// clock through local (time.Now when nil). Until Measure succeeds it is the
// local clock.
func NewClock(pool *pgxpool.Pool, local func() time.Time) *Clock {
	if local == nil {
		local = time.Now
	}
	return &Clock{pool: pool, local: local}
}

// Now returns the database's current time, within Uncertainty.
func (c *Clock) Now() time.Time { return c.local().Add(time.Duration(c.offset.Load())) }

// Offset returns the database's clock minus the local one, the error bound
// of that figure (half the measuring round trip), and whether it was ever
// measured.
func (c *Clock) Offset() (offset, uncertainty time.Duration, measured bool) {
	return time.Duration(c.offset.Load()), time.Duration(c.uncertainty.Load()), c.measured.Load()
}

// Measure reads the database's clock and sets the offset: for each sample,
// the database's clock_timestamp() is taken to be the local time half-way
// through the round trip, wrong by at most half of it. The connection is
// acquired before the timing starts, so a wait for one is not counted.
func (c *Clock) Measure(ctx context.Context) (err error) {
	conn, err := c.pool.Acquire(ctx)
	if err != nil {
		return Map(err, "database clock")
	}
	defer conn.Release()
	best := time.Duration(-1)
	var offset time.Duration
	for range clockSamples {
		var db time.Time
		t0 := c.local()
		if err := conn.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&db); err != nil {
			return Map(err, "database clock")
		}
		t1 := c.local()
		rtt := t1.Sub(t0) // monotonic: a step of the wall clock meanwhile does not count
		if best < 0 || rtt < best {
			// db carries no monotonic reading, so this is a wall-clock difference.
			best, offset = rtt, db.Sub(t0.Add(rtt/2))
		}
	}
	c.offset.Store(int64(offset))
	c.uncertainty.Store(int64(best / 2))
	c.measured.Store(true)
	return nil
}

// Run re-measures the offset every interval until ctx is cancelled, so a
// step of either clock (an NTP correction, a failover to a database host
// whose clock differs) is followed within one interval. A failed measurement
// keeps the last offset: clocks drift by parts per million, so an offset
// seconds old is still right to well under a millisecond.
func (c *Clock) Run(ctx context.Context, every time.Duration, warn func(error)) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := c.Measure(ctx); err != nil && ctx.Err() == nil && warn != nil {
			warn(fmt.Errorf("measure the database's clock: %w", err))
		}
	}
}
