package activity

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/seckill/seckill/internal/platform/errs"
)

// products is what the Catalog needs of the product service: productClient
// in the service, a fake in the tests.
type products interface {
	// get returns the product and its raw JSON object.
	get(ctx context.Context, id int64) (product, map[string]any, error)
	// reserve makes productID hold quantity units for activityID. It sets
	// an absolute state, so it may be repeated.
	reserve(ctx context.Context, productID, activityID, quantity int64) error
	// release makes productID hold nothing for activityID; repeatable too.
	release(ctx context.Context, productID, activityID int64) error
}

// Catalog is the write path of activities. An activity's inventory is held
// by the product service as a reservation keyed by the activity id, and its
// row lives here: the two are kept matching without a distributed
// transaction, and without a network call while a transaction or a row
// lock is open (a slow product service would otherwise hold row locks that
// purchases wait for).
//
// Each operation does its remote step before or after a single-statement
// write, and compensates:
//   - The product service is asked to reserve before the row says so, and to
//     release only after the row no longer does, so a committed activity is
//     never short of its inventory; a failure in between leaves at most a
//     reservation nobody uses, which reconcile releases.
//   - Create takes the id from the sequence first, reserves under it, then
//     inserts; a failed insert releases.
//   - Update and Delete read the row without a lock and write it only if it
//     is still what they read (a compare and swap on the editable fields, see
//     Store.update). Two edits racing therefore cannot both be written over
//     one read: the later one finds the row changed, re-reads and re-applies
//     its change (at most maxAttempts times, then 409).
//   - After every write that touched a reservation, whether it committed,
//     failed or has an unknown outcome, reconcile makes the product service
//     hold what the row says, re-reading the row until it stands still, so a
//     concurrent edit's remote calls cannot leave a stale reservation behind.
type Catalog struct {
	store    *Store
	products products
	forget   func(activityID int64) // tells the seckill engine the activity changed
	now      func() time.Time
	log      *slog.Logger
}

// NewCatalog returns a Catalog writing to store and reserving at products;
// forget is called after every edit or delete of an activity. now is the
// database's clock (db.Clock.Now): whether a sale has started, which
// freezes its start, is decided by the clock the commits are decided by,
// whatever this process's own clock says.
func NewCatalog(store *Store, products products, forget func(activityID int64), now func() time.Time, log *slog.Logger) *Catalog {
	return &Catalog{store: store, products: products, forget: forget, now: now, log: log}
}

// maxAttempts bounds how often an edit re-reads a row another edit changed.
const maxAttempts = 3

// Create creates an activity and reserves its stock at the product service.
func (c *Catalog) Create(ctx context.Context, in CreateRequest) (_ Activity, err error) {
	defer errs.Annotate(&err, "Catalog.Create(product %d)", in.ProductID)
	if !in.EndTime.After(c.now()) {
		// A sale created over would answer "ended" to everyone, forever.
		return Activity{}, errs.InvalidFields(errs.FieldErrors{"end_time": "must be in the future"})
	}
	p, err := c.lookupProduct(ctx, in.ProductID)
	if err != nil {
		return Activity{}, err
	}
	id, err := c.store.nextID(ctx)
	if err != nil {
		return Activity{}, err
	}
	if err := c.products.reserve(ctx, in.ProductID, id, in.Stock); err != nil {
		if !refused(err) {
			// The reservation may have been made with its reply lost.
			c.reconcile(ctx, id, in.ProductID)
		}
		return Activity{}, err
	}
	a, err := c.store.insert(ctx, id, in, p.Price)
	if err != nil {
		// The insert failed or its outcome is unknown: the row decides.
		c.reconcile(ctx, id, in.ProductID)
		return Activity{}, err
	}
	return a, nil
}

// Update changes the fields present in in.
func (c *Catalog) Update(ctx context.Context, id int64, in UpdateRequest) (_ Activity, err error) {
	defer errs.Annotate(&err, "Catalog.Update(%d)", id)
	defer c.forget(id) // the engine's view of the activity is stale either way
	for attempt := 1; ; attempt++ {
		cur, err := c.store.Get(ctx, id)
		if err != nil {
			return Activity{}, err
		}
		next, err := planUpdate(cur, in, c.now())
		if err != nil {
			return Activity{}, err
		}
		if next.ProductID == cur.ProductID && next.Stock == cur.Stock {
			a, err := c.store.update(ctx, cur, next)
			if errors.Is(err, errChanged) && attempt < maxAttempts {
				continue
			}
			return a, err
		}
		touched := []int64{cur.ProductID}
		if next.ProductID != cur.ProductID {
			touched = append(touched, next.ProductID)
			p, err := c.lookupProduct(ctx, next.ProductID)
			if err != nil {
				return Activity{}, err
			}
			next.Price = p.Price
		}
		if err := c.products.reserve(ctx, next.ProductID, id, next.Stock); err != nil {
			c.reconcile(ctx, id, touched...)
			return Activity{}, err
		}
		a, err := c.store.update(ctx, cur, next)
		// Committed or not, the old product's reservation is released or
		// the new one undone only now, after the row decided.
		c.reconcile(ctx, id, touched...)
		if errors.Is(err, errChanged) && attempt < maxAttempts {
			continue
		}
		return a, err
	}
}

// Delete removes an activity nothing was sold of, then releases its
// reservation. A failed release does not fail the delete (the activity is
// gone); it leaves units reserved for nobody, and the log says which.
func (c *Catalog) Delete(ctx context.Context, id int64) (err error) {
	defer errs.Annotate(&err, "Catalog.Delete(%d)", id)
	defer c.forget(id)
	for attempt := 1; ; attempt++ {
		cur, err := c.store.Get(ctx, id)
		if err != nil {
			return err
		}
		if sold := cur.Stock - cur.Remaining - cur.Released; sold != 0 {
			return errs.E(errs.Conflict, "activity %d has sold %d units and cannot be deleted", id, sold)
		}
		err = c.store.delete(ctx, cur)
		if errors.Is(err, errChanged) && attempt < maxAttempts {
			continue
		}
		if err == nil || !refused(err) {
			c.reconcile(ctx, id, cur.ProductID)
		}
		return err
	}
}

// planUpdate applies in to cur by the rules of an edit: once the sale has
// started or anything was sold, stock, product and start time are frozen;
// the end stays after the start.
func planUpdate(cur Activity, in UpdateRequest, now time.Time) (Activity, error) {
	next := cur
	if in.Name != nil {
		next.Name = *in.Name
	}
	if in.StartTime != nil {
		next.StartTime = *in.StartTime
	}
	if in.EndTime != nil {
		next.EndTime = *in.EndTime
	}
	if in.Stock != nil {
		next.Stock = *in.Stock
	}
	if in.ProductID != nil {
		next.ProductID = *in.ProductID
	}
	if movesFrozen(cur, next) && (cur.Started(now) || cur.Remaining != cur.Stock) {
		return Activity{}, errs.E(errs.Conflict, "activity %d has started: its stock, product and start time can no longer change", cur.ID)
	}
	if !next.EndTime.After(next.StartTime) {
		return Activity{}, errs.InvalidFields(errs.FieldErrors{"end_time": "must be after start_time"})
	}
	if cur.Closed && !next.EndTime.Equal(cur.EndTime) {
		return Activity{}, errs.E(errs.Conflict, "activity %d has ended and its unsold units went back to the product: its end can no longer move", cur.ID)
	}
	return next, nil
}

// movesFrozen reports whether an edit changes a field that is frozen once
// the sale starts.
func movesFrozen(cur, next Activity) bool {
	return next.Stock != cur.Stock || next.ProductID != cur.ProductID || !next.StartTime.Equal(cur.StartTime)
}

// lookupProduct fetches a product the request names; an unknown one is the
// request's fault.
func (c *Catalog) lookupProduct(ctx context.Context, id int64) (product, error) {
	p, _, err := c.products.get(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return product{}, errs.InvalidFields(errs.FieldErrors{"product_id": "product does not exist"})
	}
	return p, err
}

// refused reports whether err is a definite refusal, after which nothing
// changed: the peer or the database answered that the request was wrong.
func refused(err error) bool {
	switch errs.CodeOf(err) {
	case errs.Invalid, errs.NotFound, errs.Conflict:
		return true
	}
	return false
}

// reconcile makes the product service hold what the database says activity
// id is: its product reserves its stock, and every other product in touched
// holds nothing for it; when the activity does not exist, none does. Both
// calls set an absolute state, so this is right whatever happened before.
// It re-reads the row after its calls and goes again if the row moved
// meanwhile: a concurrent edit may have committed between the read and the
// calls. When even that fails, the log says so: repeating the request
// reconciles.
func (c *Catalog) reconcile(ctx context.Context, id int64, touched ...int64) {
	ctx = context.WithoutCancel(ctx)
	var last *Activity
	for round := 0; ; round++ {
		a, err := c.store.Get(ctx, id)
		if err != nil && !errs.Is(err, errs.NotFound) {
			c.log.ErrorContext(ctx, "activity's reservation may not match it; repeat the request", "activity_id", id, "err", err)
			return
		}
		if last != nil && last.ID == a.ID && last.ProductID == a.ProductID && last.Stock == a.Stock {
			return // the row stood still while the calls were made
		}
		if round == maxAttempts {
			c.log.WarnContext(ctx, "activity kept changing while its reservation was reconciled", "activity_id", id)
			return
		}
		last = &a
		exists := err == nil
		if exists {
			if err := c.products.reserve(ctx, a.ProductID, id, a.Stock); err != nil {
				c.log.ErrorContext(ctx, "restore an activity's reservation", "activity_id", id, "product_id", a.ProductID, "err", err)
			}
		}
		for _, p := range touched {
			if exists && p == a.ProductID {
				continue
			}
			if err := c.products.release(ctx, p, id); err != nil {
				c.log.ErrorContext(ctx, "release a reservation the activity does not hold", "activity_id", id, "product_id", p, "err", err)
			}
		}
	}
}
